// One line of a watch stream, and what the informer does when a watch ends.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace annal::kube {

struct WatchEvent {
    enum class Type { Added, Modified, Deleted, Bookmark, Error, Invalid };
    Type type = Type::Invalid;
    nlohmann::json object;  // the object, or a metav1.Status for Error
};

// Parses {"type":"ADDED","object":{...}}. Malformed lines give Type::Invalid.
WatchEvent parse_watch_line(std::string_view line);

// True when the event says our resourceVersion is too old (410 Gone / Expired).
bool is_gone(const WatchEvent& event);

struct WatchEnd {
    int http_status = 0;                // status of the watch request (200 when it streamed)
    std::string error;                  // transport failure, if any
    bool gone = false;                  // a 410 arrived (as the HTTP status or as an ERROR event)
    std::string last_resource_version;  // of the last event seen
};

enum class AfterWatch {
    Rewatch,         // resume from the last resourceVersion (the stream simply ended)
    RewatchBackoff,  // resume, but after a pause (the server or network failed)
    Relist,          // the resourceVersion expired: list again, then watch from there
};
AfterWatch decide_after_watch(const WatchEnd& end);

}  // namespace annal::kube
