// Turns SIGINT/SIGTERM into a std::stop_token request, so long-running commands (tail)
// end cleanly on Ctrl-C. Construct it before starting any other thread: it blocks the
// signals in the calling thread (inherited by threads created later) and waits for them
// on its own thread, where anything may be done safely (no async-signal restrictions).
#pragma once

#include <pthread.h>

#include <stop_token>
#include <thread>

namespace annal::cli {

class SignalStop {
  public:
    SignalStop();
    SignalStop(const SignalStop&) = delete;
    SignalStop& operator=(const SignalStop&) = delete;
    ~SignalStop();

    std::stop_token token() const { return source_.get_token(); }
    bool signalled() const { return source_.stop_requested(); }

  private:
    std::stop_source source_;
    std::thread waiter_;
};

}  // namespace annal::cli
