#include "replication/command_codec.hpp"

#include "storage/byte_order.hpp"

namespace annal::replication {
namespace {

using storage::get_u32_be;
using storage::get_u64_be;
using storage::put_u32_be;
using storage::put_u64_be;

void put_string(std::string& out, std::string_view text) {
    put_u32_be(out, static_cast<std::uint32_t>(text.size()));
    out.append(text);
}

// Bounds-checked reading; any overrun makes the whole command malformed.
class Reader {
  public:
    explicit Reader(std::string_view data) : data_(data) {}
    bool u8(std::uint8_t& out) {
        if (!need(1)) {
            return false;
        }
        out = static_cast<std::uint8_t>(data_[pos_++]);
        return true;
    }
    bool u32(std::uint32_t& out) {
        if (!need(4)) {
            return false;
        }
        out = get_u32_be(bytes());
        pos_ += 4;
        return true;
    }
    bool u64(std::uint64_t& out) {
        if (!need(8)) {
            return false;
        }
        out = get_u64_be(bytes());
        pos_ += 8;
        return true;
    }
    bool string(std::string& out) {
        std::uint32_t size = 0;
        if (!u32(size) || !need(size)) {
            return false;
        }
        out.assign(data_.substr(pos_, size));
        pos_ += size;
        return true;
    }
    bool done() const { return pos_ == data_.size(); }

  private:
    bool need(std::size_t n) const { return data_.size() - pos_ >= n; }
    const unsigned char* bytes() const {
        return reinterpret_cast<const unsigned char*>(data_.data()) + pos_;
    }
    std::string_view data_;
    std::size_t pos_ = 0;
};

std::optional<Command> decode_append(Reader& in) {
    storage::AppendRequest request;
    std::uint8_t kind = 0;
    std::uint32_t count = 0;
    if (!in.string(request.stream) || !in.u8(kind) || !in.u64(request.expected.version) ||
        kind > static_cast<std::uint8_t>(storage::ExpectedVersion::Kind::Exact) || !in.u32(count)) {
        return std::nullopt;
    }
    request.expected.kind = static_cast<storage::ExpectedVersion::Kind>(kind);
    for (std::uint32_t i = 0; i < count; ++i) {
        storage::ProposedEvent event;
        std::uint64_t timestamp = 0;
        std::uint8_t json = 0;
        if (!in.string(event.id) || !in.string(event.type) || !in.u64(timestamp) ||
            !in.string(event.data) || !in.string(event.metadata) || !in.u8(json) || json > 1) {
            return std::nullopt;
        }
        event.timestamp_us = static_cast<std::int64_t>(timestamp);
        event.data_is_json = json == 1;
        request.events.push_back(std::move(event));
    }
    if (!in.done()) {
        return std::nullopt;
    }
    return Command{std::move(request)};
}

}  // namespace

std::string encode_command(const storage::AppendRequest& request) {
    std::string out;
    std::size_t size = 32 + request.stream.size();
    for (const storage::ProposedEvent& event : request.events) {
        size +=
            40 + event.id.size() + event.type.size() + event.data.size() + event.metadata.size();
    }
    out.reserve(size);
    out.push_back(static_cast<char>(CommandKind::Append));
    put_string(out, request.stream);
    out.push_back(static_cast<char>(request.expected.kind));
    put_u64_be(out, request.expected.version);
    put_u32_be(out, static_cast<std::uint32_t>(request.events.size()));
    for (const storage::ProposedEvent& event : request.events) {
        put_string(out, event.id);
        put_string(out, event.type);
        put_u64_be(out, static_cast<std::uint64_t>(event.timestamp_us));
        put_string(out, event.data);
        put_string(out, event.metadata);
        out.push_back(event.data_is_json ? 1 : 0);
    }
    return out;
}

std::string encode_command(const SetPeerAddress& command) {
    std::string out;
    out.push_back(static_cast<char>(CommandKind::SetPeerAddress));
    put_u64_be(out, command.node);
    put_string(out, command.address);
    return out;
}

std::optional<Command> decode_command(std::string_view data) {
    if (data.empty()) {
        return std::nullopt;
    }
    Reader in(data.substr(1));
    switch (static_cast<CommandKind>(data[0])) {
        case CommandKind::Append:
            return decode_append(in);
        case CommandKind::SetPeerAddress: {
            SetPeerAddress command;
            if (!in.u64(command.node) || !in.string(command.address) || !in.done()) {
                return std::nullopt;
            }
            return Command{std::move(command)};
        }
    }
    return std::nullopt;
}

}  // namespace annal::replication
