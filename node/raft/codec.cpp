#include "raft/codec.hpp"

#include <cstdint>

namespace annal::raft {
namespace {

class Writer {
  public:
    void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void varint(std::uint64_t v) {
        while (v >= 0x80) {
            out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
            v >>= 7;
        }
        out_.push_back(static_cast<char>(v));
    }
    void bytes(std::string_view s) {
        varint(s.size());
        out_.append(s);
    }
    void ids(const std::vector<NodeId>& ids) {
        varint(ids.size());
        for (NodeId id : ids)
            varint(id);
    }
    void membership(const Membership& m) {
        ids(m.voters);
        ids(m.learners);
    }
    void meta(const SnapshotMeta& m) {
        varint(m.index);
        varint(m.term);
        membership(m.membership);
    }
    void entry(const Entry& e) {
        varint(e.term);
        varint(e.index);
        u8(static_cast<std::uint8_t>(e.type));
        bytes(e.data);
    }
    std::string take() { return std::move(out_); }

  private:
    std::string out_;
};

class Reader {
  public:
    explicit Reader(std::string_view in) : in_(in) {}
    bool ok() const { return ok_; }
    bool at_end() const { return ok_ && pos_ == in_.size(); }
    std::size_t remaining() const { return in_.size() - pos_; }

    std::uint8_t u8() {
        if (!ok_ || pos_ >= in_.size())
            return fail<std::uint8_t>();
        return static_cast<std::uint8_t>(in_[pos_++]);
    }
    std::uint64_t varint() {
        std::uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            std::uint8_t b = u8();
            if (!ok_)
                return 0;
            if (shift == 63 && (b & 0x7e) != 0)
                return fail<std::uint64_t>();
            v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
                return v;
        }
        return fail<std::uint64_t>();
    }
    std::string bytes() {
        std::uint64_t n = varint();
        if (!ok_ || n > remaining())
            return fail<std::string>();
        std::string s(in_.substr(pos_, n));
        pos_ += n;
        return s;
    }
    bool boolean() {
        std::uint8_t b = u8();
        if (b > 1)
            fail<int>();
        return b == 1;
    }
    std::vector<NodeId> ids() {
        std::uint64_t n = varint();
        std::vector<NodeId> out;
        if (!ok_ || n > remaining())
            return fail<std::vector<NodeId>>();
        out.reserve(n);
        for (std::uint64_t i = 0; i < n && ok_; ++i)
            out.push_back(varint());
        if (!std::is_sorted(out.begin(), out.end()))
            fail<int>();
        return out;
    }
    Membership membership() {
        Membership m;
        m.voters = ids();
        m.learners = ids();
        return m;
    }
    SnapshotMeta meta() {
        SnapshotMeta m;
        m.index = varint();
        m.term = varint();
        m.membership = membership();
        return m;
    }
    Entry entry() {
        Entry e;
        e.term = varint();
        e.index = varint();
        std::uint8_t type = u8();
        if (type > static_cast<std::uint8_t>(EntryType::Config))
            fail<int>();
        e.type = static_cast<EntryType>(type);
        e.data = bytes();
        return e;
    }
    template <typename T>
    T fail() {
        ok_ = false;
        return T{};
    }

  private:
    std::string_view in_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

bool read_version(Reader& r) {
    return r.u8() == kCodecVersion && r.ok();
}

template <typename T>
std::optional<T> finish(const Reader& r, T value) {
    if (!r.at_end())
        return std::nullopt;
    return value;
}

}  // namespace

std::string encode(const Message& m) {
    Writer w;
    w.u8(kCodecVersion);
    w.u8(static_cast<std::uint8_t>(m.type));
    w.varint(m.group);
    w.varint(m.from);
    w.varint(m.to);
    w.varint(m.term);
    w.varint(m.log_term);
    w.varint(m.index);
    w.varint(m.commit);
    w.u8(m.reject ? 1 : 0);
    w.u8(m.force ? 1 : 0);
    w.varint(m.reject_hint);
    w.varint(m.read_seq);
    w.bytes(m.context);
    w.varint(m.entries.size());
    for (const Entry& e : m.entries)
        w.entry(e);
    w.meta(m.snapshot);
    w.varint(m.snapshot_offset);
    w.varint(m.snapshot_size);
    w.bytes(m.snapshot_chunk);
    return w.take();
}

std::optional<Message> decode_message(std::string_view bytes) {
    Reader r(bytes);
    if (!read_version(r))
        return std::nullopt;
    Message m;
    std::uint8_t type = r.u8();
    if (type < static_cast<std::uint8_t>(MessageType::Append) ||
        type > static_cast<std::uint8_t>(MessageType::ReadIndexResponse)) {
        return std::nullopt;
    }
    m.type = static_cast<MessageType>(type);
    m.group = r.varint();
    m.from = r.varint();
    m.to = r.varint();
    m.term = r.varint();
    m.log_term = r.varint();
    m.index = r.varint();
    m.commit = r.varint();
    m.reject = r.boolean();
    m.force = r.boolean();
    m.reject_hint = r.varint();
    m.read_seq = r.varint();
    m.context = r.bytes();
    std::uint64_t n = r.varint();
    // Each entry takes at least 4 bytes, which bounds the allocation by the input size.
    if (!r.ok() || n > r.remaining() / 4)
        return std::nullopt;
    m.entries.reserve(n);
    for (std::uint64_t i = 0; i < n && r.ok(); ++i)
        m.entries.push_back(r.entry());
    m.snapshot = r.meta();
    m.snapshot_offset = r.varint();
    m.snapshot_size = r.varint();
    m.snapshot_chunk = r.bytes();
    return finish(r, std::move(m));
}

std::string encode(const Entry& entry) {
    Writer w;
    w.u8(kCodecVersion);
    w.entry(entry);
    return w.take();
}

std::optional<Entry> decode_entry(std::string_view bytes) {
    Reader r(bytes);
    if (!read_version(r))
        return std::nullopt;
    Entry e = r.entry();
    return finish(r, std::move(e));
}

std::string encode(const HardState& s) {
    Writer w;
    w.u8(kCodecVersion);
    w.varint(s.term);
    w.varint(s.vote);
    w.varint(s.commit);
    return w.take();
}

std::optional<HardState> decode_hard_state(std::string_view bytes) {
    Reader r(bytes);
    if (!read_version(r))
        return std::nullopt;
    HardState s;
    s.term = r.varint();
    s.vote = r.varint();
    s.commit = r.varint();
    return finish(r, s);
}

std::string encode(const Membership& membership) {
    Writer w;
    w.u8(kCodecVersion);
    w.membership(membership);
    return w.take();
}

std::optional<Membership> decode_membership(std::string_view bytes) {
    Reader r(bytes);
    if (!read_version(r))
        return std::nullopt;
    Membership m = r.membership();
    return finish(r, std::move(m));
}

std::string encode(const SnapshotMeta& meta) {
    Writer w;
    w.u8(kCodecVersion);
    w.meta(meta);
    return w.take();
}

std::optional<SnapshotMeta> decode_snapshot_meta(std::string_view bytes) {
    Reader r(bytes);
    if (!read_version(r))
        return std::nullopt;
    SnapshotMeta m = r.meta();
    return finish(r, std::move(m));
}

}  // namespace annal::raft
