// What the broker offers the hooks (hooks.h ShardServices) and does for them from other
// threads: a message published by the broker itself, a function run on this shard (a
// plugin's per-core reload), a client disconnected by id.
#include "core/base/log.h"
#include "core/broker/broker_shard.h"
#include "core/mqtt/topic.h"

namespace ringmq::broker {

bool BrokerShard::PublishFromBroker(std::string_view topic, std::string_view payload, mqtt::Qos qos,
                                    bool retain) {
  AssertOnOwnShard();
  // A valid topic name within the level limit; $SYS is allowed (the broker's own).
  if (mqtt::ValidateTopicName(topic) != mqtt::TopicError::kOk ||
      mqtt::TopicLevelCount(topic) > config().max_topic_levels) {
    return false;
  }
  PublishInternal(topic, payload, retain, qos);
  return true;
}

void BrokerShard::Handle(uint32_t /*from*/, CallMsg&& m) {
  m.fn(m.arg);
}

void BrokerShard::Handle(uint32_t /*from*/, ConfigMsg&& m) {
  config_ = *m.config;
  retained_.set_limits(
      RetainedStore::ShareOf(config_.max_retained_messages, config_.max_retained_bytes, shards_));
}

void BrokerShard::Handle(uint32_t /*from*/, DisconnectMsg&& m) {
  auto it = sessions_.find(std::string_view(*m.client_id));
  if (it == sessions_.end() || (*it)->connection == nullptr) {
    return;  // not connected (any more)
  }
  Connection& c = *(*it)->connection;
  RINGMQ_LOG(kInfo, "client %s disconnected by a plugin (reason 0x%02x)", *m.client_id,
             static_cast<unsigned>(m.reason));
  Disconnect(c, m.reason, "disconnected by the server", /*publish_will=*/true);
}

}  // namespace ringmq::broker
