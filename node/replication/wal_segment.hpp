// One segment file of the Raft write-ahead log (layout in raft_wal.hpp): an open file
// descriptor with positional reads and writes, so that readers on other threads can
// pread entries while the writer appends. Shared ownership keeps the descriptor open for
// a reader even after the writer has deleted the file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace annal::replication {

// "wal-<16 lowercase hex digits>.log"
std::string wal_segment_name(std::uint64_t sequence);
std::optional<std::uint64_t> parse_wal_segment_name(std::string_view name);
// "wal-spare.tmp": the next segment while it is being prepared (wal_segment_preparer.hpp).
// parse_wal_segment_name() rejects it, so replay never reads it.
std::string wal_spare_name();

// fsync of a directory, so that a file created or deleted in it survives a crash.
bool sync_directory(const std::string& directory, std::string& error);

class WalSegment {
    struct PassKey {
        explicit PassKey() = default;
    };

  public:
    WalSegment(PassKey, int fd, std::string path, std::uint64_t sequence);
    ~WalSegment();
    WalSegment(const WalSegment&) = delete;
    WalSegment& operator=(const WalSegment&) = delete;

    // Creates the file filled with `capacity` zero bytes (preallocated, so that later
    // fdatasyncs rarely change the file size); when `durable`, the file and its directory
    // are synced before returning (when not, the file is sparse).
    static std::shared_ptr<WalSegment> create(const std::string& directory, std::uint64_t sequence,
                                              std::uint64_t capacity, bool durable,
                                              std::string& error);
    static std::shared_ptr<WalSegment> open(const std::string& directory, std::uint64_t sequence,
                                            std::string& error);
    // Makes the prepared (zero-filled, synced) file at `spare_path` the segment `sequence`:
    // renames it (never over an existing file) and, when `durable`, syncs the directory.
    static std::shared_ptr<WalSegment> adopt(const std::string& directory,
                                             const std::string& spare_path, std::uint64_t sequence,
                                             bool durable, std::string& error);

    bool write_at(std::uint64_t offset, std::string_view bytes, std::string& error) const;
    // Reads exactly `size` bytes (fewer only at the end of the file: `out` is then shorter).
    bool read_at(std::uint64_t offset, std::size_t size, std::string& out) const;
    bool read_all(std::string& out, std::string& error) const;
    // Writes zeros over [from, to).
    bool zero_range(std::uint64_t from, std::uint64_t to, std::string& error) const;
    bool sync_data(std::string& error) const;
    bool remove_file(std::string& error) const;

    const std::string& path() const { return path_; }
    std::uint64_t sequence() const { return sequence_; }

  private:
    int fd_;
    std::string path_;
    std::uint64_t sequence_;
};

}  // namespace annal::replication
