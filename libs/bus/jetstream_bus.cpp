#include "libs/bus/jetstream_bus.h"

#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <mutex>
#include <stdexcept>

#include "libs/bus/consumer.h"
#include "libs/core/log.h"

namespace oms::bus {
namespace {

constexpr std::int64_t kNanosPerMilli = 1'000'000;

// A consumer has at most this many messages delivered and not acknowledged (MaxAckPending).
// Every fetch asks for that many: libnats 3.4 hands a fetch every message already waiting in
// the subscription (delivered for an earlier pull request that expired on our side) into an
// array sized by the batch, and more than the batch overflows it (heap corruption seen under
// load). No more than MaxAckPending can be waiting, so that batch cannot overflow.
constexpr int kMaxAckPending = 4096;
// Messages handled in one transaction.
constexpr int kHandleBatch = 128;

void check(natsStatus s, const std::string& what) {
  if (s != NATS_OK) throw std::runtime_error(what + ": " + natsStatus_GetText(s));
}

std::string durable_name(const std::string& consumer, const std::string& subject) {
  std::string d = consumer + "_" + subject;
  std::replace(d.begin(), d.end(), '.', '_');
  return d;
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace

struct JetStreamBus::Impl {
  std::string urls, stream;
  int replicas = 1;
  natsOptions* opts = nullptr;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  std::vector<Subscription> subs;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  // Pull subscriptions of stopped fetch loops, destroyed only after the connection is closed:
  // destroying one while the connection's reader thread is delivering a late fetch response to
  // it is a use-after-free in cnats (nats.c issue 637; an ASan SEGV seen once at shutdown in
  // tests/cluster/test_failover.py).
  std::mutex retired_mu;
  std::vector<natsSubscription*> retired;
  std::atomic<int> busy{0};
  std::atomic<bool> stream_ready{false};
  std::mutex stream_mu;    // one thread at a time creates the stream
  std::mutex publish_mu;   // one batch at a time: PublishAsyncComplete waits for all in flight
  std::atomic<bool> async_failed{false};
  std::function<void()> on_dead_letter;

  static void on_pub_error(jsCtx*, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<Impl*>(closure);
    self->async_failed = true;
    log::warn({"bus"}, std::string("publish not acknowledged: ") + (pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err)));
  }

  bool is_connected() const { return nc && natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED; }

  // Creates the stream if it is missing (first start, or a broker that lost its data).
  bool ensure_stream() {
    if (stream_ready) return true;
    if (!is_connected()) return false;
    std::lock_guard lock(stream_mu);
    if (stream_ready) return true;
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    const char* subjects[] = {"oms.>"};
    cfg.Name = stream.c_str();
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = replicas;
    cfg.Duplicates = 120'000 * kNanosPerMilli;  // de-duplication window for Nats-Msg-Id
    // Messages stay until they are a week old (limits retention: every durable consumer reads
    // them at its own pace). Bounds the store; a consumer service down for longer than that
    // would miss messages, which OPERATIONS.md says.
    cfg.MaxAge = 7LL * 24 * 3600 * 1000 * kNanosPerMilli;
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_AddStream(&si, js, &cfg, nullptr, &jerr);
    if (si) jsStreamInfo_Destroy(si);
    if (s != NATS_OK && jerr != JSStreamNameExistErr) {
      log::warn({"bus"}, std::string("create stream: ") + natsStatus_GetText(s) + " (" + std::to_string(jerr) + ")");
      return false;
    }
    stream_ready = true;
    return true;
  }

  natsSubscription* subscribe_durable(const Subscription& sub, const std::string& subject) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    std::string durable = durable_name(sub.consumer, subject);
    so.Config.Durable = durable.c_str();
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.AckWait = 10'000 * kNanosPerMilli;  // a crashed replica's messages come back after 10 s
    so.Config.MaxAckPending = kMaxAckPending;
    std::string full = "oms." + subject;
    natsSubscription* ns = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_PullSubscribe(&ns, js, full.c_str(), durable.c_str(), nullptr, &so, &jerr);
    if (s != NATS_OK) {
      log::warn({sub.consumer}, "pull subscribe " + durable + ": " + natsStatus_GetText(s));
      if (ns) natsSubscription_Destroy(ns);
      return nullptr;
    }
    return ns;
  }

  void fetch_loop(const Subscription& sub, const std::string& subject) {
    natsSubscription* ns = nullptr;
    std::vector<Message> msgs;
    std::vector<const Message*> ptrs;
    int errors = 0;
    while (!stopping) {
      if (!ns) {
        if (!ensure_stream() || !(ns = subscribe_durable(sub, subject))) {
          sleep_ms(250);
          continue;
        }
      }
      natsMsgList list{};
      jsErrCode jerr = static_cast<jsErrCode>(0);
      natsStatus s = natsSubscription_Fetch(&list, ns, kMaxAckPending, 200, &jerr);
      if (s == NATS_TIMEOUT || (s == NATS_OK && list.Count == 0)) {
        natsMsgList_Destroy(&list);
        errors = 0;
        continue;
      }
      if (s != NATS_OK) {
        natsMsgList_Destroy(&list);
        // Disconnected, or the consumer is gone (a broker that lost its data): wait, and after
        // a few failures subscribe again, which creates the durable consumer if it is missing.
        if (++errors == 1 || errors % 20 == 0)
          log::warn({sub.consumer}, "fetch " + subject + ": " + natsStatus_GetText(s));
        if (errors % 10 == 0) {
          {
            std::lock_guard lock(retired_mu);  // destroyed once the connection is closed (above)
            retired.push_back(ns);
          }
          ns = nullptr;
          stream_ready = false;
        }
        sleep_ms(200);
        continue;
      }
      errors = 0;
      busy++;
      for (int at = 0; at < list.Count; at += kHandleBatch) {
        if (stopping) {  // what is not handled goes back at once
          for (int j = at; j < list.Count; ++j) natsMsg_Nak(list.Msgs[j], nullptr);
          break;
        }
        handle(sub, subject, list.Msgs + at, std::min(kHandleBatch, list.Count - at), msgs, ptrs);
      }
      natsMsgList_Destroy(&list);
      busy--;
    }
    if (ns) {
      std::lock_guard lock(retired_mu);
      retired.push_back(ns);
    }
  }

  struct Slice {  // a part of a fetched natsMsgList
    natsMsg** Msgs;
    int Count;
  };

  void handle(const Subscription& sub, const std::string& subject, natsMsg** fetched, int n, std::vector<Message>& msgs,
              std::vector<const Message*>& ptrs) {
    Slice list{fetched, n};
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
    // The transaction failing as a whole means the database is down (or was lost mid-batch),
    // not that a message is bad: keep the batch and try again here, telling JetStream that the
    // messages are in progress, so that no redelivery counts against them (NumDelivered is what
    // sends a message to the dead letters).
    for (int tries = 1;; ++tries) {
      try {
        results = handle_batch(sub, ptrs);
        break;
      } catch (const std::exception& e) {
        if (tries == 1 || tries % 20 == 0)
          log::warn({sub.consumer}, "batch of " + subject + " not handled (try " + std::to_string(tries) + "): " + e.what());
        if (stopping) {
          for (int i = 0; i < list.Count; ++i) natsMsg_Nak(list.Msgs[i], nullptr);
          return;
        }
        sleep_ms(static_cast<int>(Redelivery::batch_retry_ms(tries)));
        for (int i = 0; i < list.Count; ++i) natsMsg_InProgress(list.Msgs[i], nullptr);
      }
    }
    for (int i = 0; i < list.Count; ++i) {
      natsMsg* m = list.Msgs[i];
      if (results[i].outcome != Outcome::kFailed) {
        natsMsg_Ack(m, nullptr);
        continue;
      }
      std::uint64_t delivered = 1;
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, m) == NATS_OK && meta) {
        delivered = meta->NumDelivered;
        jsMsgMetaData_Destroy(meta);
      }
      log::warn({sub.consumer}, "handling " + subject + " failed (delivery " + std::to_string(delivered) +
                                    "): " + results[i].error);
      if (Redelivery::dead_letter(static_cast<int>(std::min<std::uint64_t>(delivered, 1000)))) {
        try {
          dead_letter(sub, msgs[i], results[i].error, static_cast<int>(delivered));
          natsMsg_Ack(m, nullptr);
          if (on_dead_letter) on_dead_letter();
        } catch (const std::exception&) {
          natsMsg_NakWithDelay(m, 1000, nullptr);  // milliseconds (unlike AckWait)
        }
      } else {
        std::int64_t delay_ms = Redelivery::backoff_ms(static_cast<int>(delivered));
        natsMsg_NakWithDelay(m, delay_ms, nullptr);  // milliseconds (unlike AckWait)
      }
    }
  }
};

JetStreamBus::JetStreamBus(std::string urls, int replicas, std::string stream) : impl_(std::make_unique<Impl>()) {
  impl_->urls = std::move(urls);
  impl_->replicas = std::max(1, replicas);
  impl_->stream = std::move(stream);
}

JetStreamBus::~JetStreamBus() { close(); }

void JetStreamBus::close() {
  if (!impl_) return;
  stop();
  auto& i = *impl_;
  if (!i.js && !i.nc && !i.opts) return;
  // Tearing the connection down has been seen to hang (rarely, at process exit, cause unknown):
  // give it 5 s on its own thread, then leave it. Everything this process owed is durable by
  // now; the connection and its context stay allocated (and reachable) for the rest of the
  // process's life, since cnats callbacks may still use them.
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  std::vector<natsSubscription*> subs;
  {
    std::lock_guard lock(i.retired_mu);
    subs.swap(i.retired);
  }
  std::thread teardown([js = i.js, nc = i.nc, opts = i.opts, subs, done] {
    if (nc) natsConnection_Close(nc);  // the reader thread ends: nothing is delivered any more
    for (natsSubscription* ns : subs) natsSubscription_Destroy(ns);
    if (js) jsCtx_Destroy(js);
    if (nc) natsConnection_Destroy(nc);
    if (opts) natsOptions_Destroy(opts);
    done->set_value();
  });
  i.js = nullptr;
  i.nc = nullptr;
  i.opts = nullptr;
  if (finished.wait_for(std::chrono::seconds(5)) == std::future_status::ready) {
    teardown.join();
  } else {
    log::warn({"bus"}, "closing the NATS connection did not finish within 5 s; leaving it behind");
    teardown.detach();
    static std::vector<std::unique_ptr<Impl>> abandoned;  // never freed: callbacks may use it
    abandoned.push_back(std::move(impl_));
  }
}

void JetStreamBus::connect() {
  auto& i = *impl_;
  check(natsOptions_Create(&i.opts), "NATS options");
  // Several servers (a NATS cluster) come as one comma-separated string; cnats wants a list.
  std::vector<std::string> servers;
  for (std::size_t pos = 0; pos <= i.urls.size();) {
    std::size_t comma = std::min(i.urls.find(',', pos), i.urls.size());
    std::string url = i.urls.substr(pos, comma - pos);
    url.erase(0, url.find_first_not_of(" \t"));
    url.erase(url.find_last_not_of(" \t") + 1);
    if (!url.empty()) servers.push_back(url);
    pos = comma + 1;
  }
  if (servers.empty()) throw std::invalid_argument("no NATS URL given");
  std::vector<const char*> ptrs;
  for (const auto& u : servers) ptrs.push_back(u.c_str());
  check(natsOptions_SetServers(i.opts, ptrs.data(), static_cast<int>(ptrs.size())), "NATS URLs " + i.urls);
  natsOptions_SetMaxReconnect(i.opts, -1);         // forever
  natsOptions_SetReconnectWait(i.opts, 250);       // ms
  natsOptions_SetTimeout(i.opts, 2000);            // connect timeout, ms
  // With a callback, a first connect that fails returns at once and goes on in the background
  // (without one, natsConnection_Connect blocks until it succeeds).
  natsOptions_SetRetryOnFailedConnect(
      i.opts, true, [](natsConnection*, void*) { log::info({"bus"}, "connected to NATS"); }, nullptr);
  natsStatus s = natsConnection_Connect(&i.nc, i.opts);
  if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) check(s, "connect to NATS at " + i.urls);
  if (s == NATS_NOT_YET_CONNECTED) log::warn({"bus"}, "NATS at " + i.urls + " not reachable yet; retrying");
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 5000;  // ms, for API calls and sync waits
  jo.PublishAsync.MaxPending = 8192;
  jo.PublishAsync.ErrHandler = &Impl::on_pub_error;
  jo.PublishAsync.ErrHandlerClosure = &i;
  check(natsConnection_JetStream(&i.js, i.nc, &jo), "JetStream context");
  i.ensure_stream();
}

bool JetStreamBus::connected() const { return impl_->is_connected() && impl_->ensure_stream(); }

void JetStreamBus::on_dead_letter(std::function<void()> f) { impl_->on_dead_letter = std::move(f); }

void JetStreamBus::subscribe(Subscription sub) { impl_->subs.push_back(std::move(sub)); }

void JetStreamBus::publish(std::vector<Message> batch, std::function<void(bool)> done) {
  auto& i = *impl_;
  if (!i.is_connected() || !i.ensure_stream()) {  // fail fast while NATS is down
    done(false);
    return;
  }
  std::lock_guard lock(i.publish_mu);
  i.async_failed = false;
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
    natsStatus s = js_PublishMsgAsync(i.js, &msg, nullptr);  // takes the message on success
    if (s != NATS_OK) {
      if (msg) natsMsg_Destroy(msg);
      log::warn({"bus"}, std::string("publish: ") + natsStatus_GetText(s));
      ok = false;
      break;
    }
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 5'000;  // ms
  natsStatus s = js_PublishAsyncComplete(i.js, &po);
  if (s != NATS_OK) {
    log::warn({"bus"}, std::string("publish: waiting for acks: ") + natsStatus_GetText(s));
    ok = false;
    // Forget what is still pending: the relay publishes the batch again (de-duplicated).
    natsMsgList pending{};
    if (js_PublishAsyncGetPendingList(&pending, i.js) == NATS_OK) natsMsgList_Destroy(&pending);
  }
  if (i.async_failed) {
    ok = false;
    i.stream_ready = false;  // the stream may be gone (a broker that lost its data)
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
  if (!impl_) return;  // closed, its teardown abandoned
  auto& i = *impl_;
  i.stopping = true;
  for (auto& t : i.threads)
    if (t.joinable()) t.join();
  i.threads.clear();
}

bool JetStreamBus::idle() const { return impl_->busy.load() == 0; }

}  // namespace oms::bus
