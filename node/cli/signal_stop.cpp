#include "cli/signal_stop.hpp"

#include <csignal>

namespace annal::cli {

namespace {

// SIGUSR2 is how the destructor wakes the waiter when no signal came.
sigset_t waited_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR2);
    return set;
}

}  // namespace

SignalStop::SignalStop() {
    const sigset_t set = waited_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    waiter_ = std::thread([this, set] {
        int signal_number = 0;
        sigwait(&set, &signal_number);
        if (signal_number != SIGUSR2) {
            source_.request_stop();
        }
    });
}

SignalStop::~SignalStop() {
    pthread_kill(waiter_.native_handle(), SIGUSR2);
    waiter_.join();
}

}  // namespace annal::cli
