#include "libs/bus/jetstream_bus.h"

#include <nats/nats.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>

#include "libs/bus/consumer.h"
#include "libs/core/log.h"

namespace oms::bus {
namespace {

constexpr std::int64_t kNanosPerMilli = 1'000'000;

void check(natsStatus s, const std::string& what) {
  if (s != NATS_OK) throw std::runtime_error(what + ": " + natsStatus_GetText(s));
}

std::string durable_name(const std::string& consumer, const std::string& subject) {
  std::string d = consumer + "_" + subject;
  std::replace(d.begin(), d.end(), '.', '_');
  return d;
}

}  // namespace

struct JetStreamBus::Impl {
  std::string urls, stream;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  std::vector<Subscription> subs;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  std::atomic<int> busy{0};

  void fetch_loop(const Subscription& sub, const std::string& subject) {
    natsSubscription* ns = nullptr;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    std::string durable = durable_name(sub.consumer, subject);
    so.Config.Durable = durable.c_str();
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.AckWait = 30'000 * kNanosPerMilli;
    so.Config.MaxAckPending = 4096;
    std::string full = "oms." + subject;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    check(js_PullSubscribe(&ns, js, full.c_str(), durable.c_str(), nullptr, &so, &jerr),
          "pull subscribe " + durable);
    std::vector<Message> msgs;
    std::vector<const Message*> ptrs;
    while (!stopping) {
      natsMsgList list{};
      natsStatus s = natsSubscription_Fetch(&list, ns, 128, 200, &jerr);
      if (s == NATS_TIMEOUT || list.Count == 0) {
        natsMsgList_Destroy(&list);
        continue;
      }
      if (s != NATS_OK) {
        log::warn({sub.consumer}, std::string("fetch: ") + natsStatus_GetText(s));
        natsMsgList_Destroy(&list);
        continue;
      }
      busy++;
      msgs.clear();
      ptrs.clear();
      for (int i = 0; i < list.Count; ++i) {
        natsMsg* m = list.Msgs[i];
        Message msg;
        const char* v = nullptr;
        if (natsMsgHeader_Get(m, "Nats-Msg-Id", &v) == NATS_OK && v) msg.id = v;
        if (natsMsgHeader_Get(m, "Oms-Request-Id", &v) == NATS_OK && v) msg.request_id = v;
        msg.subject = subject;
        msg.payload.assign(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)));
        msgs.push_back(std::move(msg));
      }
      for (const auto& m : msgs) ptrs.push_back(&m);
      std::vector<Result> results;
      try {
        results = handle_batch(sub, ptrs);
      } catch (const std::exception& e) {
        results.assign(msgs.size(), Result{Outcome::kFailed, e.what()});
      }
      for (int i = 0; i < list.Count; ++i) {
        natsMsg* m = list.Msgs[i];
        if (results[i].outcome != Outcome::kFailed) {
          natsMsg_Ack(m, nullptr);
          continue;
        }
        std::uint64_t delivered = 1;
        jsMsgMetaData* meta = nullptr;
        natsStatus ms = natsMsg_GetMetaData(&meta, m);
        if (ms == NATS_OK && meta) {
          delivered = meta->NumDelivered;
          jsMsgMetaData_Destroy(meta);
        }
        log::warn({sub.consumer}, "handling " + subject + " failed (delivery " + std::to_string(delivered) +
                                      "): " + results[i].error);
        if (delivered >= static_cast<std::uint64_t>(kMaxAttempts)) {
          try {
            dead_letter(sub, msgs[i], results[i].error, static_cast<int>(delivered));
            natsMsg_Ack(m, nullptr);
          } catch (const std::exception&) {
            natsMsg_NakWithDelay(m, 1000, nullptr);  // milliseconds (unlike AckWait)
          }
        } else {
          std::int64_t delay_ms = 50LL << std::min<std::uint64_t>(delivered, 6);
          natsMsg_NakWithDelay(m, delay_ms, nullptr);  // milliseconds (unlike AckWait)
        }
      }
      natsMsgList_Destroy(&list);
      busy--;
    }
    natsSubscription_Destroy(ns);
  }
};

JetStreamBus::JetStreamBus(std::string urls, std::string stream) : impl_(std::make_unique<Impl>()) {
  impl_->urls = std::move(urls);
  impl_->stream = std::move(stream);
}

JetStreamBus::~JetStreamBus() {
  stop();
  if (impl_->js) jsCtx_Destroy(impl_->js);
  if (impl_->nc) natsConnection_Destroy(impl_->nc);
}

void JetStreamBus::connect() {
  auto& i = *impl_;
  check(natsConnection_ConnectTo(&i.nc, i.urls.c_str()), "connect to NATS at " + i.urls);
  check(natsConnection_JetStream(&i.js, i.nc, nullptr), "JetStream context");
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  const char* subjects[] = {"oms.>"};
  cfg.Name = i.stream.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Duplicates = 120'000 * kNanosPerMilli;  // de-duplication window for Nats-Msg-Id
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&si, i.js, &cfg, nullptr, &jerr);
  if (si) jsStreamInfo_Destroy(si);
  if (s != NATS_OK && jerr != JSStreamNameExistErr)
    throw std::runtime_error(std::string("create stream: ") + natsStatus_GetText(s));
}

void JetStreamBus::subscribe(Subscription sub) { impl_->subs.push_back(std::move(sub)); }

void JetStreamBus::publish(std::vector<Message> batch, std::function<void(bool)> done) {
  auto& i = *impl_;
  bool ok = true;
  for (const auto& m : batch) {
    natsMsg* msg = nullptr;
    std::string subject = "oms." + m.subject;
    if (natsMsg_Create(&msg, subject.c_str(), nullptr, m.payload.data(), static_cast<int>(m.payload.size())) !=
        NATS_OK) {
      ok = false;
      break;
    }
    natsMsgHeader_Set(msg, "Nats-Msg-Id", m.id.c_str());
    if (!m.request_id.empty()) natsMsgHeader_Set(msg, "Oms-Request-Id", m.request_id.c_str());
    jsPubAck* ack = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_PublishMsg(&ack, i.js, msg, nullptr, &jerr);
    if (ack) jsPubAck_Destroy(ack);
    natsMsg_Destroy(msg);
    if (s != NATS_OK) {
      log::warn({"bus"}, std::string("publish: ") + natsStatus_GetText(s));
      ok = false;
      break;
    }
  }
  done(ok);
}

void JetStreamBus::start() {
  auto& i = *impl_;
  i.stopping = false;
  for (const auto& sub : i.subs)
    for (const auto& subject : sub.subjects)
      i.threads.emplace_back([&i, &sub, subject] {
        try {
          i.fetch_loop(sub, subject);
        } catch (const std::exception& e) {
          log::error({sub.consumer}, e.what());
        }
      });
}

void JetStreamBus::stop() {
  auto& i = *impl_;
  i.stopping = true;
  for (auto& t : i.threads)
    if (t.joinable()) t.join();
  i.threads.clear();
}

bool JetStreamBus::idle() const { return impl_->busy.load() == 0; }

}  // namespace oms::bus
