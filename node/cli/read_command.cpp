#include "cli/read_command.hpp"

#include <algorithm>
#include <iostream>
#include <vector>

#include "cli/event_printer.hpp"
#include "cli/exit_code.hpp"
#include "client/client.hpp"

namespace annal::cli {

namespace {

struct Page {
    std::vector<client::RecordedEvent> events;
    bool more = false;
};

// Reads pages until `limit` events or the end; `fetch` returns one page and advances.
template <typename Fetch>
int read_pages(const GlobalOptions& global, const ReadOptions& options, const std::string& what,
               Fetch fetch) {
    std::vector<client::RecordedEvent> collected;
    const std::size_t wanted = options.limit.value_or(SIZE_MAX);
    while (collected.size() < wanted) {
        const std::size_t page_limit = std::min(options.page_size, wanted - collected.size());
        client::Result<Page> page = fetch(page_limit);
        if (!page) {
            return report_error("read " + what, page.error());
        }
        auto& events = page.value().events;
        if (global.json) {
            // Stream JSON out page by page so huge reads do not pile up in memory.
            print_events_json(std::cout, events);
            collected.resize(collected.size() + events.size());
        } else {
            std::move(events.begin(), events.end(), std::back_inserter(collected));
        }
        if (!page.value().more || events.empty()) {
            break;
        }
    }
    if (!global.json) {
        if (collected.empty()) {
            std::cout << "(no events)\n";
        } else {
            print_events_table(std::cout, collected);
        }
    }
    return kExitOk;
}

}  // namespace

int run_read(const GlobalOptions& global, const ReadOptions& options) {
    const int modes =
        (options.stream ? 1 : 0) + (options.all ? 1 : 0) + (options.since || options.until ? 1 : 0);
    if (modes != 1) {
        return report_usage_error("read: give exactly one of STREAM, --all, or --since/--until");
    }
    if ((options.since || options.until) && (options.from || options.backwards)) {
        return report_usage_error("read: --from/--backwards do not apply to --since/--until");
    }
    std::string error;
    const auto endpoint = client::Endpoint::parse(global.server, error);
    if (!endpoint) {
        return report_usage_error(error);
    }
    client::Client client(*endpoint, global.client_options());
    const auto direction =
        options.backwards ? client::Direction::Backwards : client::Direction::Forwards;

    if (options.stream) {
        client::ReadStreamRequest request{*options.stream, options.from, direction, {}};
        return read_pages(
            global, options, *options.stream, [&](std::size_t limit) -> client::Result<Page> {
                request.limit = limit;
                auto page = client.read_stream(request);
                if (!page) {
                    return page.error();
                }
                request.from = page.value().next;
                return Page{std::move(page.value().events), page.value().next.has_value()};
            });
    }
    if (options.all) {
        client::ReadAllRequest request{options.from, direction, {}};
        return read_pages(global, options, "$all", [&](std::size_t limit) -> client::Result<Page> {
            request.limit = limit;
            auto page = client.read_all(request);
            if (!page) {
                return page.error();
            }
            request.from = page.value().next;
            return Page{std::move(page.value().events), page.value().next.has_value()};
        });
    }
    client::ReadTimeRequest request{
        options.since.value_or("0"), options.until.value_or("9223372036854775807"), {}, {}};
    return read_pages(
        global, options, "time range", [&](std::size_t limit) -> client::Result<Page> {
            request.limit = limit;
            auto page = client.read_time(request);
            if (!page) {
                return page.error();
            }
            request.after = page.value().next;
            return Page{std::move(page.value().events), page.value().next.has_value()};
        });
}

}  // namespace annal::cli
