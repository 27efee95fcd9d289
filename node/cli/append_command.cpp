#include "cli/append_command.hpp"

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/exit_code.hpp"
#include "cli/progress_bar.hpp"
#include "client/client.hpp"

namespace annal::cli {

using nlohmann::json;

namespace {

// Turns one NDJSON line into an event; `default_type` fills a missing "type".
std::optional<client::NewEvent> event_from_line(const std::string& line,
                                                const std::optional<std::string>& default_type,
                                                std::string& error) {
    const auto object = json::parse(line, nullptr, false);
    if (!object.is_object()) {
        error = "not a JSON object";
        return std::nullopt;
    }
    client::NewEvent event;
    for (const auto& [key, value] : object.items()) {
        if (key == "id" && value.is_string()) {
            event.id = value.get<std::string>();
        } else if (key == "type" && value.is_string()) {
            event.type = value.get<std::string>();
        } else if (key == "timestamp") {
            event.timestamp_json = value.dump();
        } else if (key == "data") {
            event.data_json = value.dump();
        } else if (key == "data_base64" && value.is_string()) {
            event.data_base64 = value.get<std::string>();
        } else if (key == "metadata") {
            event.metadata_json = value.dump();
        } else {
            error = "unexpected field \"" + key + "\"";
            return std::nullopt;
        }
    }
    if (event.type.empty()) {
        if (!default_type) {
            error = "no \"type\" (give one per line or --type)";
            return std::nullopt;
        }
        event.type = *default_type;
    }
    return event;
}

void print_outcome(const GlobalOptions& global, const std::string& stream, std::size_t events,
                   std::size_t requests, std::uint64_t first_position,
                   const client::AppendOutcome& last) {
    if (global.json) {
        std::cout << json{{"stream", stream},
                          {"events", events},
                          {"requests", requests},
                          {"first_position", first_position},
                          {"last_position", last.last_position},
                          {"version", last.version},
                          {"deduplicated", last.deduplicated}}
                         .dump()
                  << '\n';
        return;
    }
    std::cout << (last.deduplicated && requests == 1 ? "already stored (deduplicated): "
                                                     : "appended ")
              << events << (events == 1 ? " event" : " events") << " to " << stream
              << ": positions " << first_position << ".." << last.last_position
              << ", stream version " << last.version << '\n';
}

int append_single(const GlobalOptions& global, const AppendOptions& options, client::Client& client,
                  client::ExpectedVersion expected) {
    if (!options.type) {
        return report_usage_error("append: --type is required unless --file is given");
    }
    client::NewEvent event;
    event.type = *options.type;
    event.id = options.id.value_or("");
    if (options.data) {
        if (!json::accept(*options.data)) {
            return report_usage_error("append: --data is not valid JSON: " + *options.data);
        }
        event.data_json = *options.data;
    }
    if (options.metadata) {
        if (!json::accept(*options.metadata)) {
            return report_usage_error("append: --metadata is not valid JSON");
        }
        event.metadata_json = *options.metadata;
    }
    auto result = client.append(options.stream, expected, {std::move(event)});
    if (!result) {
        return report_error("append to " + options.stream, result.error());
    }
    print_outcome(global, options.stream, 1, 1, result.value().first_position, result.value());
    return kExitOk;
}

int append_file(const GlobalOptions& global, const AppendOptions& options, client::Client& client,
                client::ExpectedVersion expected) {
    std::ifstream file_stream;
    std::istream* input = &std::cin;
    if (*options.file != "-") {
        file_stream.open(*options.file);
        if (!file_stream) {
            return report_usage_error("append: cannot open " + *options.file);
        }
        input = &file_stream;
    }
    // Read and check every line first, so a typo on line 90,000 does not leave the
    // stream with half the file.
    std::vector<client::NewEvent> events;
    std::string line;
    for (std::size_t number = 1; std::getline(*input, line); ++number) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) {
            continue;
        }
        std::string error;
        auto event = event_from_line(line, options.type, error);
        if (!event) {
            return report_usage_error("append: " + *options.file + ":" + std::to_string(number) +
                                      ": " + error);
        }
        events.push_back(std::move(*event));
    }
    if (events.empty()) {
        return report_usage_error("append: " + *options.file + " holds no events");
    }
    ProgressBar progress("appending", events.size());
    std::size_t sent = 0;
    std::size_t requests = 0;
    std::uint64_t first_position = 0;
    client::AppendOutcome last;
    while (sent < events.size()) {
        std::vector<client::NewEvent> batch;
        std::size_t bytes = 0;
        while (sent + batch.size() < events.size() && batch.size() < options.batch_events) {
            const auto& next = events[sent + batch.size()];
            const auto size = next.data_json.size() + next.metadata_json.size() + 200;
            if (!batch.empty() && bytes + size > options.batch_bytes) {
                break;
            }
            bytes += size;
            batch.push_back(next);
        }
        const auto count = batch.size();
        auto result = client.append(options.stream, expected, std::move(batch));
        if (!result) {
            progress.finish();
            if (sent > 0) {
                std::cerr << "annal: append: " << sent << " of " << events.size()
                          << " events were appended before this failure\n";
            }
            return report_error("append to " + options.stream, result.error());
        }
        if (requests == 0) {
            first_position = result.value().first_position;
        }
        last = result.value();
        expected = client::ExpectedVersion::exact(last.version);
        sent += count;
        ++requests;
        progress.update(sent);
    }
    progress.finish();
    print_outcome(global, options.stream, events.size(), requests, first_position, last);
    return kExitOk;
}

}  // namespace

int run_append(const GlobalOptions& global, const AppendOptions& options) {
    const auto expected = client::ExpectedVersion::parse(options.expected_version);
    if (!expected) {
        return report_usage_error(
            "append: --expected-version must be any, no_stream, exists or "
            "a number, not '" +
            options.expected_version + "'");
    }
    if (options.file && (options.data || options.id || options.metadata)) {
        return report_usage_error("append: --file cannot be combined with --data/--id/--metadata");
    }
    std::string error;
    const auto endpoint = client::Endpoint::parse(global.server, error);
    if (!endpoint) {
        return report_usage_error(error);
    }
    client::Client client(*endpoint, global.client_options());
    return options.file ? append_file(global, options, client, *expected)
                        : append_single(global, options, client, *expected);
}

}  // namespace annal::cli
