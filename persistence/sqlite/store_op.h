// StoreOp: one write the broker asked of the SQLite store, copied out of the caller's views
// so that the writer thread can apply it later. Which fields a kind uses is listed with the
// kind; the others stay empty.
#pragma once

#include <cstdint>
#include <string>

namespace ringmq::persistence::sqlite {

enum class OpKind : uint8_t {
  kSession,         // client, version, number = expiry_s
  kSessionOffline,  // client, time_ms
  kSessionEnded,    // client
  kWill,            // client, topic, payload, props, qos, retain, number = delay_s,
                    // will_expiry_s, flag = has_expiry
  kWillCleared,     // client
  kSubscribe,       // client, topic = filter, options, number = subscription id
  kUnsubscribe,     // client, topic = filter
  kQueued,          // client, seq, message_id, topic, payload, props, message_qos,
                    // message_retain, expiry_ms, qos, retain (as delivered)
  kSent,            // client, seq, packet_id, flag = released
  kDone,            // client, seq
  kUnreleasedAdd,   // client, packet_id
  kUnreleasedDel,   // client, packet_id
  kRetained,        // topic, payload (empty: delete), props, qos, expiry_ms
};

struct StoreOp {
  OpKind kind = OpKind::kSession;
  uint8_t version = 0;  // MQTT protocol level
  uint8_t qos = 0;
  uint8_t message_qos = 0;
  uint8_t options = 0;  // subscription options, packed as in the MQTT 5 options byte
  bool retain = false;
  bool message_retain = false;
  bool flag = false;
  uint16_t packet_id = 0;
  uint32_t number = 0;
  uint32_t will_expiry_s = 0;
  uint64_t seq = 0;
  uint64_t message_id = 0;
  int64_t expiry_ms = 0;  // wall clock; 0: never
  int64_t time_ms = 0;    // wall clock
  uint64_t token = 0;     // 0: nobody waits for it
  std::string client;
  std::string topic;
  std::string payload;
  std::string props;

  // What it holds, for the bound on writes waiting for the disk.
  size_t bytes() const {
    return sizeof(StoreOp) + client.size() + topic.size() + payload.size() + props.size();
  }
};

}  // namespace ringmq::persistence::sqlite
