#include "metrics-service/metrics_server.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "metrics-service/sql_metrics_repository.h"
#include "shared/log.h"
#include "shared/tls.h"

namespace cx::metrics {

std::vector<shared::OptionSpec> MetricsServiceOptionSpecs() {
  auto specs = shared::CommonOptions("0.0.0.0:50053", "sqlite:///data/metrics.db", "0.0.0.0:9466");
  // Queries are answered from memory; the database is written by the feed
  // applier and read in full only at start. A small page cache keeps the
  // memory for the index.
  for (auto& spec : specs) {
    if (spec.name == "db-cache-mb") spec.default_value = "2";
  }
  specs.push_back({"feedback-endpoint", "CX_FEEDBACK_ENDPOINT", "127.0.0.1:50051",
                   "feedback-service host:port whose change feed to follow (empty: none)"});
  specs.push_back({"journey-endpoint", "CX_JOURNEY_ENDPOINT", "127.0.0.1:50052",
                   "journey-service host:port whose change feed to follow (empty: none)"});
  specs.push_back({"feed-token-file", "CX_FEED_TOKEN_FILE", "",
                   "file holding a token with the service role for the feeds (or the CX_FEED_TOKEN variable)"});
  specs.push_back({"feed-tls-ca", "CX_FEED_TLS_CA", "",
                   "PEM roots to verify the feeds' TLS servers (empty: plaintext feeds)"});
  specs.push_back({"feed-tls-cert", "CX_FEED_TLS_CERT", "", "PEM client certificate presented to the feeds (mTLS)"});
  specs.push_back({"feed-tls-key", "CX_FEED_TLS_KEY", "", "PEM private key of --feed-tls-cert"});
  specs.push_back({"alert-interval-ms", "CX_ALERT_INTERVAL_MS", "30000",
                   "how often alert rules are evaluated besides after each batch of feedback"});
  return specs;
}

absl::Status MetricsServer::Migrate(const shared::ServiceOptions& options) {
  return shared::MigrateOnly(options, OpenMetricsRepository);
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(shared::ServiceOptions service) {
  MetricsServerOptions options;
  const shared::Config& config = service.config;
  options.feeds.feedback_endpoint = config.Get("feedback-endpoint");
  options.feeds.journey_endpoint = config.Get("journey-endpoint");
  if (const char* token = std::getenv("CX_FEED_TOKEN"); token != nullptr && *token != '\0') {
    options.feeds.token = token;
  } else if (!config.Get("feed-token-file").empty()) {
    std::ifstream in(config.Get("feed-token-file"));
    if (!in) return absl::InvalidArgumentError("--feed-token-file cannot be read");
    std::stringstream text;
    text << in.rdbuf();
    options.feeds.token = std::string(absl::StripAsciiWhitespace(text.str()));
  }
  if (options.feeds.token.empty() &&
      (!options.feeds.feedback_endpoint.empty() || !options.feeds.journey_endpoint.empty())) {
    return absl::InvalidArgumentError("following a feed needs a service token: CX_FEED_TOKEN or --feed-token-file");
  }
  auto credentials = shared::MakeChannelCredentials(
      {config.Get("feed-tls-ca"), config.Get("feed-tls-cert"), config.Get("feed-tls-key")});
  if (!credentials.ok()) return credentials.status();
  options.feeds.credentials = *credentials;
  auto interval = config.GetInt("alert-interval-ms");
  if (!interval.ok()) return interval.status();
  options.alert_interval = absl::Milliseconds(std::max<int64_t>(100, *interval));
  options.service = std::move(service);
  return Start(std::move(options));
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(MetricsServerOptions options) {
  std::unique_ptr<MetricsServer> s(new MetricsServer);
  if (auto st = s->host_.Open("metrics", options.service); !st.ok()) return st;
  auto repository = OpenMetricsRepository(s->host_.pool());
  if (!repository.ok()) return repository.status();
  s->repository_ = *repository;
  auto repo = s->repository_;
  s->host_.MakeHub([repo](const std::optional<std::string>& tenant, int64_t after, int limit) {
    return repo->AlertsAfter(tenant, after, limit);
  });
  s->index_ = std::make_shared<RollupIndex>();

  // Feed and alert figures on /metrics, next to the RPC ones.
  auto& registry = s->host_.metrics()->registry();
  auto& applied = prometheus::BuildCounter().Name("cx_feed_changes_applied_total")
                      .Help("Change-feed records applied to the rollups").Register(registry);
  auto& cursor = prometheus::BuildGauge().Name("cx_feed_cursor")
                     .Help("Sequence of the last change-feed record applied").Register(registry);
  auto& applied_at = prometheus::BuildGauge().Name("cx_feed_last_applied_timestamp_seconds")
                         .Help("When the last change-feed batch was applied").Register(registry);
  auto& reconnects = prometheus::BuildCounter().Name("cx_feed_reconnects_total")
                         .Help("Change-feed streams that broke and were reopened").Register(registry);
  auto& alerts = prometheus::BuildCounter().Name("cx_alerts_fired_total").Help("Alerts stored").Register(registry).Add({});
  options.feeds.on_applied = [&applied, &cursor, &applied_at](const std::string& feed, int64_t changes, int64_t after) {
    applied.Add({{"feed", feed}}).Increment(static_cast<double>(changes));
    cursor.Add({{"feed", feed}}).Set(static_cast<double>(after));
    applied_at.Add({{"feed", feed}}).SetToCurrentTime();
  };
  options.feeds.on_reconnect = [&reconnects](const std::string& feed) { reconnects.Add({{"feed", feed}}).Increment(); };

  MetricsManagerOptions manager_options;
  manager_options.page_token_key = options.service.page_token_key;
  manager_options.clock = options.clock;
  auto wake_watchers = s->host_.OnCommit();
  manager_options.on_alert = [wake_watchers, &alerts] {
    alerts.Increment();
    wake_watchers();
  };
  s->manager_ = std::make_shared<MetricsManager>(s->repository_, s->index_, std::move(manager_options));
  s->journey_index_ = std::make_shared<JourneyIndex>();
  JourneyMetricsOptions journey_options;
  journey_options.page_token_key = options.service.page_token_key;
  journey_options.clock = options.clock;
  s->journeys_ = std::make_shared<JourneyMetrics>(s->journey_index_, std::move(journey_options));
  auto journeys = s->journeys_;
  s->health_hub_ = std::make_shared<HealthHub>(
      [journeys](const std::optional<std::string>& tenant, int64_t after,
                 int limit) -> absl::StatusOr<std::vector<v1::CustomerHealth>> {
        if (!tenant) return absl::InvalidArgumentError("health streams are per tenant");
        return journeys->HealthAfter(*tenant, after, limit);
      },
      [](const v1::CustomerHealth& h) { return h.version(); });
  auto health_hub = s->health_hub_;
  s->host_.OnDrain([health_hub] { health_hub->Stop(); });
  auto manager = s->manager_;
  s->applier_ = std::make_shared<FeedApplier>(
      s->repository_, s->index_, s->journey_index_, [manager, health_hub](const std::vector<std::string>& tenants) {
        health_hub->Notify();
        if (auto st = manager->EvaluateAlerts(tenants); !st.ok()) {
          shared::LogWarning("alert evaluation failed", {{"error", std::string(st.message())}});
        }
      });
  if (auto st = s->applier_->Load(); !st.ok()) return st;
  s->service_ = std::make_unique<MetricsGrpcService>(s->manager_, s->journeys_, s->host_.hub(), s->health_hub_,
                                                     s->host_.env());
  if (auto st = s->host_.Serve(s->service_.get(), v1::MetricsService::service_full_name(), [repo] { return repo->Ping(); });
      !st.ok()) {
    return st;
  }
  s->consumer_ = std::make_unique<FeedConsumer>(s->applier_, options.feeds);
  s->consumer_->Start();
  const absl::Duration interval = options.alert_interval;
  s->evaluator_ = std::thread([raw = s.get(), interval] { raw->EvaluateEvery(interval); });
  return s;
}

void MetricsServer::EvaluateEvery(absl::Duration interval) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, absl::ToChronoMilliseconds(interval), [this] { return stopping_; })) {
    lock.unlock();
    if (auto st = manager_->EvaluateAlerts({}); !st.ok()) {
      shared::LogWarning("alert evaluation failed", {{"error", std::string(st.message())}});
    }
    lock.lock();
  }
}

void MetricsServer::Shutdown() {
  host_.Drain();
  if (consumer_) consumer_->Stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (evaluator_.joinable()) evaluator_.join();
  host_.StopHub();
  if (health_hub_) health_hub_->Stop();
}

MetricsServer::~MetricsServer() { Shutdown(); }

}  // namespace cx::metrics
