// The version `annal --version` prints: the CMake project version plus `git describe`
// of the source tree at configure time, when it was a git checkout.
#pragma once

#include <string>

namespace annal::cli {

std::string version_string();

}  // namespace annal::cli
