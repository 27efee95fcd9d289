#include "kube/base64.hpp"

#include <openssl/evp.h>

namespace annal::kube {

std::string base64_encode(std::string_view bytes) {
    std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');  // + the terminating NUL
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    std::string compact;
    for (char c : text) {
        if (c != '\n' && c != '\r' && c != ' ')
            compact.push_back(c);
    }
    if (compact.size() % 4 != 0)
        return std::nullopt;
    std::string out(compact.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(compact.data()),
                                  static_cast<int>(compact.size()));
    if (n < 0)
        return std::nullopt;
    std::size_t len = static_cast<std::size_t>(n);
    // EVP_DecodeBlock counts the padding as zero bytes; drop them.
    if (!compact.empty() && compact.back() == '=')
        --len;
    if (compact.size() > 1 && compact[compact.size() - 2] == '=')
        --len;
    out.resize(len);
    return out;
}

}  // namespace annal::kube
