#include "replication/snapshot_descriptor.hpp"

#include "storage/byte_order.hpp"

namespace annal::replication {
namespace {

constexpr std::string_view kMagic = "ASD";

class Reader {
  public:
    explicit Reader(std::string_view bytes) : rest_(bytes) {}
    bool take(std::size_t size, std::string_view& out) {
        if (rest_.size() < size) {
            return false;
        }
        out = rest_.substr(0, size);
        rest_.remove_prefix(size);
        return true;
    }
    bool u64(std::uint64_t& out) { return big_endian(out, storage::get_u64_be); }
    bool u32(std::uint32_t& out) { return big_endian(out, storage::get_u32_be); }
    bool done() const { return rest_.empty(); }

  private:
    template <typename Value>
    bool big_endian(Value& out, Value (*decode)(const unsigned char*)) {
        std::string_view bytes;
        if (!take(sizeof(Value), bytes)) {
            return false;
        }
        out = decode(reinterpret_cast<const unsigned char*>(bytes.data()));
        return true;
    }

    std::string_view rest_;
};

}  // namespace

std::string encode_descriptor(const SnapshotDescriptor& descriptor) {
    std::string out(kMagic);
    out.push_back(static_cast<char>(kSnapshotDescriptorVersion));
    storage::put_u64_be(out, descriptor.index);
    storage::put_u64_be(out, descriptor.head_position);
    storage::put_u32_be(out, static_cast<std::uint32_t>(descriptor.addresses.size()));
    for (const auto& [id, address] : descriptor.addresses) {
        storage::put_u64_be(out, id);
        storage::put_u32_be(out, static_cast<std::uint32_t>(address.size()));
        out.append(address);
    }
    return out;
}

std::optional<SnapshotDescriptor> decode_descriptor(std::string_view bytes) {
    Reader reader(bytes);
    std::string_view magic;
    std::string_view version;
    if (!reader.take(kMagic.size(), magic) || magic != kMagic || !reader.take(1, version) ||
        static_cast<std::uint8_t>(version[0]) != kSnapshotDescriptorVersion) {
        return std::nullopt;
    }
    SnapshotDescriptor descriptor;
    std::uint32_t count = 0;
    if (!reader.u64(descriptor.index) || !reader.u64(descriptor.head_position) ||
        !reader.u32(count)) {
        return std::nullopt;
    }
    for (std::uint32_t i = 0; i < count; ++i) {
        std::uint64_t id = 0;
        std::uint32_t length = 0;
        std::string_view address;
        if (!reader.u64(id) || !reader.u32(length) || !reader.take(length, address)) {
            return std::nullopt;
        }
        descriptor.addresses[id] = std::string(address);
    }
    if (!reader.done()) {
        return std::nullopt;
    }
    return descriptor;
}

}  // namespace annal::replication
