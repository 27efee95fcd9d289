#include "replication/wal_segment_preparer.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>

#include "replication/wal_segment.hpp"

namespace annal::replication {
namespace {

// Small enough that one chunk in flight delays a concurrent fdatasync only briefly, large
// enough that the fill is not dominated by per-call costs.
constexpr std::size_t kFillChunk = 1u << 20;
// After writing out a chunk, the fill pauses this many times as long as that took: it keeps
// the disk at most a quarter of the time, so that persists during a fill are not slowed
// much (unpaced, they took several times as long), while a fill still takes far less time
// than the log takes to fill a segment. The pause ends as soon as a rollover waits.
constexpr int kPauseFactor = 3;

std::string errno_text(const std::string& what, const std::string& path) {
    return what + " " + path + ": " + std::strerror(errno);
}

class FileDescriptor {
  public:
    explicit FileDescriptor(int fd) : fd_(fd) {}
    ~FileDescriptor() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    int get() const { return fd_; }

  private:
    int fd_;
};

bool write_fully(int fd, const char* data, std::size_t size, std::uint64_t offset) {
    while (size > 0) {
        const ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
        offset += static_cast<std::uint64_t>(n);
    }
    return true;
}

}  // namespace

WalSegmentPreparer::WalSegmentPreparer(std::string directory, std::uint64_t capacity, bool durable)
    : spare_path_(std::move(directory) + "/" + wal_spare_name()),
      capacity_(capacity),
      durable_(durable),
      thread_([this] {
          pthread_setname_np(pthread_self(), "annal-walprep");
          run();
      }) {}

WalSegmentPreparer::~WalSegmentPreparer() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
}

void WalSegmentPreparer::request() {
    {
        std::lock_guard lock(mutex_);
        if (state_ != State::Idle && state_ != State::Failed) {
            return;
        }
        state_ = State::Requested;
    }
    changed_.notify_all();
}

WalSegmentPreparer::Taken WalSegmentPreparer::take() {
    Taken taken;
    std::unique_lock lock(mutex_);
    if (state_ == State::Requested || state_ == State::Preparing) {
        const auto start = std::chrono::steady_clock::now();
        urgent_ = true;
        changed_.notify_all();  // ends a pause of the fill
        changed_.wait(lock,
                      [&] { return state_ != State::Requested && state_ != State::Preparing; });
        urgent_ = false;
        taken.waited = true;
        taken.waited_us =
            static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                           std::chrono::steady_clock::now() - start)
                                           .count());
    }
    switch (state_) {
        case State::Ready:
            taken.ok = true;
            break;
        case State::Failed:
            taken.error = error_;
            break;
        default:
            taken.error = "no spare segment was requested";
            break;
    }
    state_ = State::Idle;
    return taken;
}

std::uint64_t WalSegmentPreparer::spares_prepared() const {
    std::lock_guard lock(mutex_);
    return prepared_;
}

void WalSegmentPreparer::run() noexcept {
    std::unique_lock lock(mutex_);
    for (;;) {
        changed_.wait(lock, [&] { return stopping_.load() || state_ == State::Requested; });
        if (stopping_.load()) {
            return;
        }
        state_ = State::Preparing;
        lock.unlock();
        std::string error;
        bool ok = false;
        try {
            ok = prepare(error);
        } catch (const std::exception& e) {
            error = e.what();  // bad_alloc: nothing else in prepare() throws
        }
        if (!ok) {
            ::unlink(spare_path_.c_str());  // a partial spare only takes up space
        }
        lock.lock();
        state_ = ok ? State::Ready : State::Failed;
        if (ok) {
            ++prepared_;
        } else {
            error_ = "cannot prepare the next segment: " + error;
        }
        changed_.notify_all();
    }
}

bool WalSegmentPreparer::prepare(std::string& error) {
    // O_TRUNC: whatever is left at this name (an abandoned fill) is not a segment.
    const FileDescriptor file(
        ::open(spare_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (file.get() < 0) {
        error = errno_text("cannot create", spare_path_);
        return false;
    }
    if (!durable_) {
        // Zeros on disk only spare fdatasyncs a change of file size; without fdatasyncs a
        // sparse file reads the same.
        if (::ftruncate(file.get(), static_cast<off_t>(capacity_)) != 0) {
            error = errno_text("cannot extend", spare_path_);
            return false;
        }
        return true;
    }
    const std::string zeros(kFillChunk, '\0');
    for (std::uint64_t offset = 0; offset < capacity_;) {
        if (stopping_.load()) {
            error = "the log is closing";
            return false;
        }
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(capacity_ - offset, kFillChunk));
        if (!write_fully(file.get(), zeros.data(), n, offset)) {
            error = errno_text("cannot write", spare_path_);
            return false;
        }
        // Write this chunk out and wait for it before dirtying the next: the page cache
        // never holds a backlog of zeros for a log fdatasync to queue behind (left to the
        // final fsync, a 64 MiB spare held up a concurrent persist for tens of ms).
        const auto written = std::chrono::steady_clock::now();
        if (::sync_file_range(file.get(), static_cast<off_t>(offset), static_cast<off_t>(n),
                              SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                  SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
            error = errno_text("cannot write out", spare_path_);
            return false;
        }
        offset += n;
        pause(kPauseFactor * (std::chrono::steady_clock::now() - written));
    }
    if (::fsync(file.get()) != 0) {
        error = errno_text("cannot fsync", spare_path_);
        return false;
    }
    return true;
}

void WalSegmentPreparer::pause(std::chrono::steady_clock::duration length) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, length, [&] { return stopping_.load() || urgent_; });
}

}  // namespace annal::replication
