#include "core/plugin/call_counts.h"

namespace ringmq::plugin {

std::string_view HookKindName(HookKind k) {
  switch (k) {
    case HookKind::kAuthenticate:
      return "authenticate";
    case HookKind::kAuthorizePublish:
      return "authorize_publish";
    case HookKind::kAuthorizeSubscribe:
      return "authorize_subscribe";
    case HookKind::kAuthStep:
      return "auth_step";
    case HookKind::kMessagePublished:
      return "on_message_published";
    case HookKind::kMessageDelivered:
      return "on_message_delivered";
    case HookKind::kMessageDropped:
      return "on_message_dropped";
    case HookKind::kClientConnected:
      return "on_client_connected";
    case HookKind::kClientDisconnected:
      return "on_client_disconnected";
  }
  return "unknown";
}

}  // namespace ringmq::plugin
