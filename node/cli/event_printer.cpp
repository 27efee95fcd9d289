#include "cli/event_printer.hpp"

#include <ostream>

#include "cli/text_table.hpp"

namespace annal::cli {

namespace {
constexpr std::size_t kDataWidth = 60;
}

std::string data_preview(const client::RecordedEvent& event) {
    if (event.data_base64) {
        return abbreviate("base64:" + *event.data_base64, kDataWidth);
    }
    return abbreviate(event.data_json.value_or("null"), kDataWidth);
}

void print_events_json(std::ostream& out, const std::vector<client::RecordedEvent>& events) {
    for (const auto& event : events) {
        out << event.raw_json << '\n';
    }
}

void print_events_table(std::ostream& out, const std::vector<client::RecordedEvent>& events) {
    TextTable table({"POSITION", "STREAM", "VERSION", "TYPE", "TIMESTAMP", "DATA"});
    for (const auto& event : events) {
        table.add_row({std::to_string(event.position), abbreviate(event.stream, 40),
                       std::to_string(event.version), abbreviate(event.type, 40), event.timestamp,
                       data_preview(event)});
    }
    table.print(out);
}

void print_event_line(std::ostream& out, const client::RecordedEvent& event) {
    out << event.position << "  " << event.stream << '@' << event.version << "  " << event.type
        << "  " << event.timestamp << "  " << data_preview(event) << '\n';
}

}  // namespace annal::cli
