#include "transport/transport_metrics.hpp"

namespace annal::transport {

std::string render_transport_metrics(const TransportStats& stats) {
    std::string text;
    const auto family = [&text](const char* name, const char* type, const char* help) {
        text.append("# HELP ").append(name).append(" ").append(help).append("\n");
        text.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    };
    const auto per_peer = [&](const char* name, const char* type, const char* help, auto value_of) {
        family(name, type, help);
        for (const auto& peer : stats.peers) {
            text.append(name).append("{peer=\"").append(std::to_string(peer.id)).append("\"} ");
            text.append(std::to_string(value_of(peer))).append("\n");
        }
    };
    using Link = PeerLinkStats;
    per_peer("annal_peer_connected", "gauge", "1 while the outbound peer connection is up",
             [](const Link& p) { return p.connected ? 1 : 0; });
    per_peer("annal_peer_frames_sent_total", "counter", "Frames sent to the peer",
             [](const Link& p) { return p.frames_sent; });
    per_peer("annal_peer_frames_received_total", "counter", "Frames received from the peer",
             [](const Link& p) { return p.frames_received; });
    per_peer("annal_peer_bytes_sent_total", "counter", "Bytes sent to the peer",
             [](const Link& p) { return p.bytes_sent; });
    per_peer("annal_peer_bytes_received_total", "counter", "Bytes received from the peer",
             [](const Link& p) { return p.bytes_received; });
    per_peer("annal_peer_messages_dropped_total", "counter",
             "Messages for the peer dropped (queue full or down; Raft retransmits)",
             [](const Link& p) { return p.messages_dropped; });
    per_peer("annal_peer_connects_total", "counter", "Outbound connections established",
             [](const Link& p) { return p.connects; });
    family("annal_peer_inbound_rejected_total", "counter",
           "Inbound peer connections closed for a bad frame, wrong cluster, no hello or no "
           "verified client certificate");
    text.append("annal_peer_inbound_rejected_total ")
        .append(std::to_string(stats.inbound_rejected))
        .append("\n");
    // The same rejections split by cause, so an operator can tell a misconfigured
    // certificate (reason="certificate") from a confused or hostile speaker.
    family("annal_peer_rejected_total", "counter", "Inbound peer connections closed, by reason");
    const std::uint64_t certificate = stats.inbound_rejected_certificate;
    const std::uint64_t protocol =
        stats.inbound_rejected > certificate ? stats.inbound_rejected - certificate : 0;
    text.append("annal_peer_rejected_total{reason=\"certificate\"} ")
        .append(std::to_string(certificate))
        .append("\n");
    text.append("annal_peer_rejected_total{reason=\"protocol\"} ")
        .append(std::to_string(protocol))
        .append("\n");
    return text;
}

}  // namespace annal::transport
