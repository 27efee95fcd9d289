#include "transport/cluster_id.hpp"

#include <openssl/evp.h>

#include <array>

namespace annal::transport {

std::uint64_t cluster_id_from_name(std::string_view name) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int digest_length = 0;
    // EVP_Digest with SHA-256 only fails on allocation failure inside OpenSSL; a zero id
    // then still rejects nothing wrongly, it merely matches other failed nodes.
    if (EVP_Digest(name.data(), name.size(), digest.data(), &digest_length, EVP_sha256(),
                   nullptr) != 1 ||
        digest_length < 8) {
        return 0;
    }
    std::uint64_t id = 0;
    for (std::size_t i = 0; i < 8; ++i) {
        id = (id << 8) | digest[i];
    }
    return id;
}

}  // namespace annal::transport
