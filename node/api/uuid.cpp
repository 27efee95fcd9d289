#include "api/uuid.hpp"

#include <array>
#include <cstdint>
#include <random>

namespace annal::api {
namespace {

bool is_hyphen_position(std::size_t i) {
    return i == 8 || i == 13 || i == 18 || i == 23;
}

// xoshiro256**: fast, 256 bits of state, so the 122 random bits of a UUID are not limited
// by a small generator state.
class Xoshiro256 {
  public:
    Xoshiro256() {
        std::random_device device;
        for (auto& word : state_) {
            word = (static_cast<std::uint64_t>(device()) << 32) ^ device();
        }
        if ((state_[0] | state_[1] | state_[2] | state_[3]) == 0) {
            state_[0] = 0x9e3779b97f4a7c15ull;
        }
    }

    std::uint64_t next() {
        const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
        const std::uint64_t t = state_[1] << 17;
        state_[2] ^= state_[0];
        state_[3] ^= state_[1];
        state_[1] ^= state_[2];
        state_[0] ^= state_[3];
        state_[2] ^= t;
        state_[3] = rotl(state_[3], 45);
        return result;
    }

  private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::array<std::uint64_t, 4> state_{};
};

}  // namespace

std::optional<std::string> parse_uuid(std::string_view text) {
    if (text.size() != 36) {
        return std::nullopt;
    }
    std::string out(36, '-');
    for (std::size_t i = 0; i < 36; ++i) {
        const char c = text[i];
        if (is_hyphen_position(i)) {
            if (c != '-') {
                return std::nullopt;
            }
            continue;
        }
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
            out[i] = c;
        } else if (c >= 'A' && c <= 'F') {
            out[i] = static_cast<char>(c - 'A' + 'a');
        } else {
            return std::nullopt;
        }
    }
    return out;
}

namespace {

std::string format_uuid(const std::array<std::uint8_t, 16>& bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out.push_back('-');
        }
        out.push_back(kHex[bytes[i] >> 4]);
        out.push_back(kHex[bytes[i] & 0x0f]);
    }
    return out;
}

void store_big_endian(std::array<std::uint8_t, 16>& bytes, std::size_t offset,
                      std::uint64_t value) {
    for (std::size_t i = 0; i < 8; ++i) {
        bytes[offset + i] = static_cast<std::uint8_t>(value >> (56 - 8 * i));
    }
}

}  // namespace

std::string generate_uuid_v4() {
    thread_local Xoshiro256 generator;
    std::array<std::uint8_t, 16> bytes{};
    store_big_endian(bytes, 0, generator.next());
    store_big_endian(bytes, 8, generator.next());
    bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0f) | 0x40);  // version 4
    bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
    return format_uuid(bytes);
}

std::string generate_uuid_v7(std::uint64_t unix_ms) {
    thread_local Xoshiro256 generator;
    std::array<std::uint8_t, 16> bytes{};
    // 48-bit big-endian millisecond timestamp first, so ids generated close in time sort
    // close together; the rest is random.
    store_big_endian(bytes, 0, (unix_ms << 16) | (generator.next() & 0xffff));
    store_big_endian(bytes, 8, generator.next());
    bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0f) | 0x70);  // version 7
    bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3f) | 0x80);  // RFC 9562 variant
    return format_uuid(bytes);
}

}  // namespace annal::api
