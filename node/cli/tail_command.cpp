#include "cli/tail_command.hpp"

#include <iostream>

#include "cli/event_printer.hpp"
#include "cli/exit_code.hpp"
#include "cli/signal_stop.hpp"
#include "client/client.hpp"

namespace annal::cli {

int run_tail(const GlobalOptions& global, const TailOptions& options) {
    std::string error;
    const auto endpoint = client::Endpoint::parse(global.server, error);
    if (!endpoint) {
        return report_usage_error(error);
    }
    SignalStop signals;
    client::Client client(*endpoint, global.client_options());
    std::uint64_t seen = 0;
    const auto on_event = [&](const client::RecordedEvent& event) {
        if (global.json) {
            std::cout << event.raw_json << '\n';
        } else {
            print_event_line(std::cout, event);
        }
        // Flushed per event: tail is read live, often through a pipe.
        std::cout.flush();
        ++seen;
        return !options.count || seen < *options.count;
    };
    auto result = client.subscribe({options.from, options.stream}, on_event, signals.token());
    if (!result) {
        return report_error("tail", result.error());
    }
    return kExitOk;
}

}  // namespace annal::cli
