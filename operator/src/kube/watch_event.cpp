#include "kube/watch_event.hpp"

namespace annal::kube {

WatchEvent parse_watch_line(std::string_view line) {
    WatchEvent event;
    nlohmann::json parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_object() || !parsed.contains("type") || !parsed["type"].is_string() ||
        !parsed.contains("object") || !parsed["object"].is_object()) {
        return event;
    }
    const std::string type = parsed["type"].get<std::string>();
    if (type == "ADDED") {
        event.type = WatchEvent::Type::Added;
    } else if (type == "MODIFIED") {
        event.type = WatchEvent::Type::Modified;
    } else if (type == "DELETED") {
        event.type = WatchEvent::Type::Deleted;
    } else if (type == "BOOKMARK") {
        event.type = WatchEvent::Type::Bookmark;
    } else if (type == "ERROR") {
        event.type = WatchEvent::Type::Error;
    } else {
        return event;
    }
    event.object = std::move(parsed["object"]);
    return event;
}

bool is_gone(const WatchEvent& event) {
    if (event.type != WatchEvent::Type::Error)
        return false;
    const auto& status = event.object;
    if (status.contains("code") && status["code"].is_number_integer() &&
        status["code"].get<int>() == 410) {
        return true;
    }
    return status.contains("reason") && status["reason"].is_string() &&
           (status["reason"] == "Expired" || status["reason"] == "Gone");
}

AfterWatch decide_after_watch(const WatchEnd& end) {
    if (end.gone || end.http_status == 410)
        return AfterWatch::Relist;
    if (!end.error.empty() || end.http_status == 0 || end.http_status >= 300) {
        return AfterWatch::RewatchBackoff;
    }
    // A watch that ended without telling us where it was cannot be resumed exactly.
    if (end.last_resource_version.empty())
        return AfterWatch::Relist;
    return AfterWatch::Rewatch;
}

}  // namespace annal::kube
