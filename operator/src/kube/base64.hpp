// Base64 (RFC 4648, with padding) as Kubernetes uses it for Secret data and kubeconfig
// "-data" fields.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace annal::kube {

std::string base64_encode(std::string_view bytes);
// Ignores line breaks and spaces; nullopt on anything else that is not base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace annal::kube
