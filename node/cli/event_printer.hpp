// Prints recorded events for `annal read` and `annal tail`: NDJSON (the events as the
// server sent them) with --json, otherwise an aligned table, or one line per event for
// live output where column widths cannot be known in advance.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "client/events.hpp"

namespace annal::cli {

void print_events_json(std::ostream& out, const std::vector<client::RecordedEvent>& events);
void print_events_table(std::ostream& out, const std::vector<client::RecordedEvent>& events);
void print_event_line(std::ostream& out, const client::RecordedEvent& event);
std::string data_preview(const client::RecordedEvent& event);

}  // namespace annal::cli
