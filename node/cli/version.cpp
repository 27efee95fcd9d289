#include "cli/version.hpp"

namespace annal::cli {

std::string version_string() {
    std::string text = "annal " ANNAL_PROJECT_VERSION;
    const std::string describe = ANNAL_GIT_DESCRIBE;
    if (!describe.empty()) {
        text += " (git " + describe + ")";
    }
    return text;
}

}  // namespace annal::cli
