#include "op/event_recorder.hpp"

#include <chrono>

#include "kube/time_format.hpp"
#include "op/logger.hpp"

namespace annal::op {

using nlohmann::json;

EventRecorder::EventRecorder(kube::Client& client, std::string component)
    : client_(client), component_(std::move(component)) {}

void EventRecorder::record(const json& involved, const std::string& type, const std::string& reason,
                           const std::string& message) {
    const json& meta = involved["metadata"];
    const std::string ns = meta.value("namespace", std::string("default"));
    const std::string now = kube::format_time(std::chrono::system_clock::now());
    const json event = {
        {"apiVersion", "v1"},
        {"kind", "Event"},
        {"metadata",
         {{"generateName", meta.value("name", std::string("annal")) + "."}, {"namespace", ns}}},
        {"involvedObject",
         {{"apiVersion", involved.value("apiVersion", std::string())},
          {"kind", involved.value("kind", std::string())},
          {"name", meta.value("name", std::string())},
          {"namespace", ns},
          {"uid", meta.value("uid", std::string())},
          {"resourceVersion", meta.value("resourceVersion", std::string())}}},
        {"type", type},
        {"reason", reason},
        {"message", message},
        {"source", {{"component", component_}}},
        {"reportingComponent", component_},
        {"firstTimestamp", now},
        {"lastTimestamp", now},
        {"count", 1}};
    log::info("event", {{"namespace", ns},
                        {"name", meta.value("name", std::string())},
                        {"type", type},
                        {"reason", reason},
                        {"message", message}});
    kube::Result result = client_.create(kube::resources::events(), ns, event);
    if (!result.ok()) {
        log::warn("cannot record event", {{"reason", reason}, {"error", result.message()}});
    }
}

}  // namespace annal::op
