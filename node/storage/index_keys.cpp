#include "storage/index_keys.hpp"

#include "storage/byte_order.hpp"

namespace annal::storage {
namespace {

const unsigned char* as_bytes(const char* p) {
    return reinterpret_cast<const unsigned char*>(p);
}

}  // namespace

std::string position_key(std::uint64_t position) {
    std::string key;
    key.reserve(kPositionKeyBytes);
    put_u64_be(key, position);
    return key;
}

std::uint64_t position_from_key(std::string_view key) {
    return key.size() == kPositionKeyBytes ? get_u64_be(as_bytes(key.data())) : 0;
}

std::string stream_index_key(std::string_view stream, std::uint64_t version) {
    std::string key;
    key.reserve(1 + stream.size() + 8);
    key.push_back(static_cast<char>(stream.size()));
    key.append(stream);
    put_u64_be(key, version);
    return key;
}

bool parse_stream_index_key(std::string_view key, std::string_view stream, std::uint64_t& version) {
    if (key.size() != 1 + stream.size() + 8 ||
        static_cast<unsigned char>(key[0]) != stream.size() ||
        key.substr(1, stream.size()) != stream) {
        return false;
    }
    version = get_u64_be(as_bytes(key.data() + 1 + stream.size()));
    return true;
}

std::string stream_head_value(StreamHead head) {
    std::string value;
    value.reserve(kStreamHeadBytes);
    put_u64_be(value, head.version);
    put_u64_be(value, head.position);
    return value;
}

bool parse_stream_head_value(std::string_view value, StreamHead& head) {
    if (value.size() != kStreamHeadBytes) {
        return false;
    }
    head.version = get_u64_be(as_bytes(value.data()));
    head.position = get_u64_be(as_bytes(value.data() + 8));
    return true;
}

std::string time_key(std::int64_t timestamp_us, std::uint64_t position) {
    std::string key;
    key.reserve(kTimeKeyBytes);
    put_u64_be(key, order_preserving(timestamp_us));
    put_u64_be(key, position);
    return key;
}

TimeKey parse_time_key(std::string_view key) {
    return {from_order_preserving(get_u64_be(as_bytes(key.data()))),
            get_u64_be(as_bytes(key.data() + 8))};
}

}  // namespace annal::storage
