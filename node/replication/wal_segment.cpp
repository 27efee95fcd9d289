#include "replication/wal_segment.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace annal::replication {
namespace {

std::string errno_text(const std::string& what, const std::string& path) {
    return what + " " + path + ": " + std::strerror(errno);
}

constexpr std::size_t kZeroChunk = 1u << 20;

}  // namespace

std::string wal_segment_name(std::uint64_t sequence) {
    char name[32];
    std::snprintf(name, sizeof name, "wal-%016llx.log", static_cast<unsigned long long>(sequence));
    return name;
}

std::optional<std::uint64_t> parse_wal_segment_name(std::string_view name) {
    constexpr std::string_view prefix = "wal-";
    constexpr std::string_view suffix = ".log";
    if (name.size() != prefix.size() + 16 + suffix.size() || !name.starts_with(prefix) ||
        !name.ends_with(suffix)) {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    for (char c : name.substr(prefix.size(), 16)) {
        int digit = 0;
        if (c >= '0' && c <= '9') {
            digit = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            digit = c - 'a' + 10;
        } else {
            return std::nullopt;
        }
        value = (value << 4) | static_cast<std::uint64_t>(digit);
    }
    return value;
}

std::string wal_spare_name() {
    return "wal-spare.tmp";
}

bool sync_directory(const std::string& directory, std::string& error) {
    const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        error = errno_text("cannot open directory", directory);
        return false;
    }
    const bool ok = ::fsync(fd) == 0;
    if (!ok) {
        error = errno_text("cannot fsync directory", directory);
    }
    ::close(fd);
    return ok;
}

WalSegment::WalSegment(PassKey, int fd, std::string path, std::uint64_t sequence)
    : fd_(fd), path_(std::move(path)), sequence_(sequence) {}

WalSegment::~WalSegment() {
    ::close(fd_);
}

std::shared_ptr<WalSegment> WalSegment::create(const std::string& directory, std::uint64_t sequence,
                                               std::uint64_t capacity, bool durable,
                                               std::string& error) {
    std::string path = directory + "/" + wal_segment_name(sequence);
    // O_EXCL: a segment is never created over an existing one (that would be a bug).
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        error = errno_text("cannot create", path);
        return nullptr;
    }
    auto segment = std::make_shared<WalSegment>(PassKey{}, fd, std::move(path), sequence);
    if (!durable) {
        // Zeros on disk only spare fdatasyncs a change of file size; without fdatasyncs a
        // sparse file reads the same, at no cost.
        if (::ftruncate(fd, static_cast<off_t>(capacity)) != 0) {
            error = errno_text("cannot extend", segment->path());
            return nullptr;
        }
        return segment;
    }
    if (!segment->zero_range(0, capacity, error)) {
        return nullptr;
    }
    if (::fsync(fd) != 0) {
        error = errno_text("cannot fsync", segment->path());
        return nullptr;
    }
    if (!sync_directory(directory, error)) {
        return nullptr;
    }
    return segment;
}

std::shared_ptr<WalSegment> WalSegment::open(const std::string& directory, std::uint64_t sequence,
                                             std::string& error) {
    std::string path = directory + "/" + wal_segment_name(sequence);
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        error = errno_text("cannot open", path);
        return nullptr;
    }
    return std::make_shared<WalSegment>(PassKey{}, fd, std::move(path), sequence);
}

std::shared_ptr<WalSegment> WalSegment::adopt(const std::string& directory,
                                              const std::string& spare_path, std::uint64_t sequence,
                                              bool durable, std::string& error) {
    const std::string path = directory + "/" + wal_segment_name(sequence);
    // RENAME_NOREPLACE: like create()'s O_EXCL, replacing an existing segment would be a bug.
    if (::renameat2(AT_FDCWD, spare_path.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) != 0) {
        error = errno_text("cannot rename " + spare_path + " to", path);
        return nullptr;
    }
    if (durable && !sync_directory(directory, error)) {
        return nullptr;
    }
    return open(directory, sequence, error);
}

bool WalSegment::write_at(std::uint64_t offset, std::string_view bytes, std::string& error) const {
    const char* data = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
        const ssize_t n = ::pwrite(fd_, data, left, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            error = errno_text("cannot write", path_);
            return false;
        }
        data += n;
        left -= static_cast<std::size_t>(n);
        offset += static_cast<std::uint64_t>(n);
    }
    return true;
}

bool WalSegment::read_at(std::uint64_t offset, std::size_t size, std::string& out) const {
    out.resize(size);
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n =
            ::pread(fd_, out.data() + done, size - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return false;
        }
        if (n == 0) {
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    out.resize(done);
    return true;
}

bool WalSegment::read_all(std::string& out, std::string& error) const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
        error = errno_text("cannot stat", path_);
        return false;
    }
    if (!read_at(0, static_cast<std::size_t>(st.st_size), out)) {
        error = errno_text("cannot read", path_);
        return false;
    }
    return true;
}

bool WalSegment::zero_range(std::uint64_t from, std::uint64_t to, std::string& error) const {
    const std::string zeros(kZeroChunk, '\0');
    while (from < to) {
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(to - from, kZeroChunk));
        if (!write_at(from, std::string_view(zeros.data(), n), error)) {
            return false;
        }
        from += n;
    }
    return true;
}

bool WalSegment::sync_data(std::string& error) const {
    if (::fdatasync(fd_) != 0) {
        error = errno_text("cannot fdatasync", path_);
        return false;
    }
    return true;
}

bool WalSegment::remove_file(std::string& error) const {
    if (::unlink(path_.c_str()) != 0) {
        error = errno_text("cannot delete", path_);
        return false;
    }
    return true;
}

}  // namespace annal::replication
