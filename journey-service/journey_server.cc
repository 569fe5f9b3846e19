#include "journey-service/journey_server.h"

#include "journey-service/sql_journey_repository.h"

namespace cx::journey {

std::vector<shared::OptionSpec> JourneyServiceOptionSpecs() {
  return shared::CommonOptions("0.0.0.0:50052", "sqlite:///data/journey.db", "0.0.0.0:9465");
}

absl::StatusOr<std::unique_ptr<JourneyServer>> JourneyServer::Start(shared::ServiceOptions options) {
  std::unique_ptr<JourneyServer> s(new JourneyServer);
  auto pool = shared::db::OpenDatabase(options.db_url, options.db_password, options.db_pool_size);
  if (!pool.ok()) return pool.status();
  s->pool_ = *pool;
  auto repository = OpenJourneyRepository(s->pool_);
  if (!repository.ok()) return repository.status();
  s->repository_ = *repository;

  s->metrics_ = std::make_shared<shared::ServiceMetrics>("journey");
  if (!options.metrics_listen.empty()) {
    if (auto st = s->metrics_->Serve(options.metrics_listen); !st.ok()) return st;
  }
  auto repo = s->repository_;
  s->hub_ = std::make_shared<JourneyFeedHub>(
      [repo](const std::optional<std::string>& tenant, int64_t after, int limit) {
        return repo->ListChanges(tenant, after, limit);
      },
      [](const v1::JourneyChange& c) { return c.sequence(); });

  JourneyManagerOptions manager_options;
  manager_options.commit = options.commit;
  // SQLite has one writer; MySQL writers overlap their round trips.
  manager_options.commit.writers = s->pool_->backend() == shared::db::Backend::kMysql ? 2 : 1;
  manager_options.page_token_key = options.page_token_key;
  auto hub = s->hub_;
  manager_options.on_commit = [hub] { hub->Notify(); };
  auto metrics = s->metrics_;
  manager_options.observe_batch = [metrics](size_t rows, size_t queued) { metrics->ObserveWriteBatch(rows, queued); };
  s->manager_ = std::make_shared<JourneyManager>(s->repository_, std::move(manager_options));

  auto env = std::make_shared<shared::RpcEnv>(options.tokens, s->metrics_);
  s->service_ = std::make_unique<JourneyGrpcService>(s->manager_, s->hub_, env);
  s->runner_ = std::make_unique<shared::ServerRunner>(options.server);
  s->runner_->AddService(s->service_.get(), v1::JourneyService::service_full_name());
  s->runner_->SetHealthProbe([repo] { return repo->Ping(); });
  s->runner_->OnDrain([hub] { hub->Stop(); });
  if (auto st = s->runner_->Start(); !st.ok()) return st;
  return s;
}

void JourneyServer::Shutdown() {
  if (runner_) runner_->Drain();
  if (manager_) manager_->Stop();
  if (hub_) hub_->Stop();
}

JourneyServer::~JourneyServer() { Shutdown(); }

}  // namespace cx::journey
