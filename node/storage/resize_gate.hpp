// Lets the committer resize the LMDB map while other threads read.
//
// mdb_env_set_mapsize() remaps the file and is only safe when no transaction is open
// anywhere in the process, so every read transaction runs inside a shared hold and the
// resize runs exclusively. Writers are preferred: once a resize is pending, new readers
// wait for it, so a steady stream of reads cannot starve growth (glibc's rwlock on its
// own would let them).
#pragma once

#include <atomic>
#include <shared_mutex>

namespace annal::storage {

class ResizeGate {
  public:
    class SharedHold {
      public:
        explicit SharedHold(ResizeGate& gate);
        ~SharedHold();
        SharedHold(const SharedHold&) = delete;
        SharedHold& operator=(const SharedHold&) = delete;

      private:
        ResizeGate& gate_;
    };

    // Runs `resize` with no shared hold active.
    template <typename Resize>
    auto exclusive(Resize&& resize) {
        struct Release {
            ResizeGate& gate;
            ~Release() { gate.end_exclusive(); }
        } release{*this};
        begin_exclusive();
        return resize();
    }

  private:
    void begin_exclusive();
    void end_exclusive();

    std::shared_mutex mutex_;
    std::atomic<bool> resize_pending_{false};
};

}  // namespace annal::storage
