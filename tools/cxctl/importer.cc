#include "tools/cxctl/importer.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "shared/auth.h"
#include "shared/csv.h"
#include "shared/proto_util.h"
#include "shared/status.h"

namespace cx::cxctl {
namespace {

namespace fb = feedback::v1;
namespace jr = journey::v1;
using shared::InvalidField;

// Sets the timestamp `field()` returns only when `value` is not empty.
template <class Field>
absl::Status SetTime(const std::string& value, const std::string& column, Field field) {
  if (value.empty()) return absl::OkStatus();
  auto t = ParseTime(value, column);
  if (!t.ok()) return t.status();
  *field() = shared::ToProtoTime(*t);
  return absl::OkStatus();
}

template <class E>
absl::Status SetEnum(const google::protobuf::EnumDescriptor* type, const std::string& prefix, const std::string& value,
                     const std::string& column, E* out) {
  if (value.empty()) return absl::OkStatus();
  auto v = ParseEnum(type, prefix, value, column);
  if (!v.ok()) return v.status();
  *out = static_cast<E>(*v);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Header> Header::Of(const std::vector<std::string>& names, const std::vector<std::string>& known,
                                  const std::string& open_prefix) {
  Header h;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(names[i]));
    if (!open_prefix.empty() && absl::StartsWith(name, open_prefix) && name.size() > open_prefix.size()) {
      h.open_.emplace_back(names[i].substr(open_prefix.size()), i);
      continue;
    }
    bool ok = false;
    for (const auto& k : known) ok = ok || k == name;
    if (!ok) {
      return InvalidField("header", absl::StrCat("unknown column '", names[i], "'; the columns are ", absl::StrJoin(known, ", "),
                                                 open_prefix.empty() ? "" : absl::StrCat(" and ", open_prefix, "<key>")));
    }
    if (!h.index_.emplace(name, i).second) return InvalidField("header", absl::StrCat("column '", name, "' repeats"));
  }
  return h;
}

std::string Header::Get(const std::vector<std::string>& row, const std::string& column) const {
  auto it = index_.find(column);
  if (it == index_.end() || it->second >= row.size()) return "";
  return row[it->second];
}

const std::vector<std::string>& FeedbackColumns() {
  static const auto* c = new std::vector<std::string>{
      "request_id", "customer_id", "crm_system", "crm_id",  "kind",   "score",      "comment",
      "source",     "channel",     "touchpoint_id", "journey_stage", "tags", "locale", "occurred_at"};
  return *c;
}

const std::vector<std::string>& CustomerColumns() {
  static const auto* c = new std::vector<std::string>{
      "customer_id", "crm_system", "crm_id", "name", "email", "phone", "segment", "plan", "country",
      "signup_time", "source_system", "updated_at"};
  return *c;
}

const std::vector<std::string>& EventColumns() {
  static const auto* c = new std::vector<std::string>{
      "event_id", "customer_id", "anonymous_id", "type",     "channel",      "touchpoint_id", "stage",
      "occurred_at", "sent_at",  "session_id",   "currency", "amount_minor", "ticket_id"};
  return *c;
}

std::string DerivedId(ImportKind kind, const std::vector<std::string>& row) {
  std::string material = absl::StrCat(static_cast<int>(kind), "\x1f");
  for (const auto& f : row) absl::StrAppend(&material, f.size(), ":", f, "\x1f");
  return absl::StrCat("csv-", shared::Sha256Hex(material).substr(0, 32));
}

absl::StatusOr<fb::SubmitFeedbackRequest> FeedbackFromRow(const Header& h, const std::vector<std::string>& row,
                                                          const std::string& derived_id) {
  fb::SubmitFeedbackRequest r;
  const std::string id = h.Get(row, "request_id");
  r.set_request_id(id.empty() ? derived_id : id);
  fb::Feedback* f = r.mutable_feedback();
  f->set_customer_id(h.Get(row, "customer_id"));
  if (!h.Get(row, "crm_system").empty() || !h.Get(row, "crm_id").empty()) {
    f->mutable_crm_reference()->set_system(h.Get(row, "crm_system"));
    f->mutable_crm_reference()->set_id(h.Get(row, "crm_id"));
  }
  fb::FeedbackKind kind = fb::FEEDBACK_KIND_UNSPECIFIED;
  if (auto s = SetEnum(fb::FeedbackKind_descriptor(), "FEEDBACK_KIND_", h.Get(row, "kind"), "kind", &kind); !s.ok()) return s;
  f->set_kind(kind);
  if (const std::string score = h.Get(row, "score"); !score.empty()) {
    int v = 0;
    if (!absl::SimpleAtoi(score, &v)) return InvalidField("score", absl::StrCat("'", score, "' is not a whole number"));
    f->set_score(v);
  }
  f->set_comment(h.Get(row, "comment"));
  cx::common::v1::Source source{};
  if (auto s = SetEnum(cx::common::v1::Source_descriptor(), "SOURCE_", h.Get(row, "source"), "source", &source); !s.ok()) {
    return s;
  }
  f->set_source(source);
  cx::common::v1::Channel channel{};
  if (auto s = SetEnum(cx::common::v1::Channel_descriptor(), "CHANNEL_", h.Get(row, "channel"), "channel", &channel);
      !s.ok()) {
    return s;
  }
  f->set_channel(channel);
  f->set_touchpoint_id(h.Get(row, "touchpoint_id"));
  cx::common::v1::JourneyStage stage{};
  if (auto s = SetEnum(cx::common::v1::JourneyStage_descriptor(), "JOURNEY_STAGE_", h.Get(row, "journey_stage"),
                       "journey_stage", &stage);
      !s.ok()) {
    return s;
  }
  f->set_journey_stage(stage);
  if (const std::string tags = h.Get(row, "tags"); !tags.empty()) {
    for (absl::string_view t : absl::StrSplit(tags, ';', absl::SkipWhitespace())) {
      f->add_tags(std::string(absl::StripAsciiWhitespace(t)));
    }
  }
  f->set_locale(h.Get(row, "locale"));
  if (auto s = SetTime(h.Get(row, "occurred_at"), "occurred_at", [&] { return f->mutable_occurred_at(); }); !s.ok()) return s;
  return r;
}

absl::StatusOr<jr::UpsertCustomerRequest> CustomerFromRow(const Header& h, const std::vector<std::string>& row,
                                                          const std::string& default_source) {
  jr::UpsertCustomerRequest r;
  r.set_customer_id(h.Get(row, "customer_id"));
  if (!h.Get(row, "crm_system").empty() || !h.Get(row, "crm_id").empty()) {
    auto* ref = r.add_crm_references();
    ref->set_system(h.Get(row, "crm_system"));
    ref->set_id(h.Get(row, "crm_id"));
  }
  jr::Traits* t = r.mutable_traits();
  t->set_name(h.Get(row, "name"));
  t->set_email(h.Get(row, "email"));
  t->set_phone(h.Get(row, "phone"));
  t->set_segment(h.Get(row, "segment"));
  t->set_plan(h.Get(row, "plan"));
  t->set_country(h.Get(row, "country"));
  if (auto s = SetTime(h.Get(row, "signup_time"), "signup_time", [&] { return t->mutable_signup_time(); }); !s.ok()) return s;
  for (const auto& [key, index] : h.open()) {
    if (index < row.size() && !row[index].empty()) (*t->mutable_custom())[key] = row[index];
  }
  const std::string source = h.Get(row, "source_system");
  r.set_source_system(source.empty() ? default_source : source);
  const std::string updated = h.Get(row, "updated_at");
  if (updated.empty()) {
    *r.mutable_source_updated_at() = shared::ToProtoTime(absl::Now());
  } else if (auto s = SetTime(updated, "updated_at", [&] { return r.mutable_source_updated_at(); }); !s.ok()) {
    return s;
  }
  return r;
}

absl::StatusOr<jr::Event> EventFromRow(const Header& h, const std::vector<std::string>& row,
                                       const std::string& derived_id) {
  jr::Event e;
  const std::string id = h.Get(row, "event_id");
  e.set_event_id(id.empty() ? derived_id : id);
  e.set_customer_id(h.Get(row, "customer_id"));
  e.set_anonymous_id(h.Get(row, "anonymous_id"));
  e.set_type(h.Get(row, "type"));
  cx::common::v1::Channel channel{};
  if (auto s = SetEnum(cx::common::v1::Channel_descriptor(), "CHANNEL_", h.Get(row, "channel"), "channel", &channel);
      !s.ok()) {
    return s;
  }
  e.set_channel(channel);
  e.set_touchpoint_id(h.Get(row, "touchpoint_id"));
  cx::common::v1::JourneyStage stage{};
  if (auto s = SetEnum(cx::common::v1::JourneyStage_descriptor(), "JOURNEY_STAGE_", h.Get(row, "stage"), "stage", &stage);
      !s.ok()) {
    return s;
  }
  e.set_stage(stage);
  if (auto s = SetTime(h.Get(row, "occurred_at"), "occurred_at", [&] { return e.mutable_occurred_at(); }); !s.ok()) return s;
  if (auto s = SetTime(h.Get(row, "sent_at"), "sent_at", [&] { return e.mutable_sent_at(); }); !s.ok()) return s;
  e.set_session_id(h.Get(row, "session_id"));
  const std::string currency = h.Get(row, "currency"), amount = h.Get(row, "amount_minor");
  if (!currency.empty() || !amount.empty()) {
    int64_t minor = 0;
    if (!absl::SimpleAtoi(amount, &minor)) {
      return InvalidField("amount_minor", absl::StrCat("'", amount, "' is not a whole number of minor units"));
    }
    e.mutable_revenue()->set_currency_code(currency);
    e.mutable_revenue()->set_amount_minor(minor);
  }
  if (const std::string ticket = h.Get(row, "ticket_id"); !ticket.empty()) (*e.mutable_properties())["ticket_id"] = ticket;
  for (const auto& [key, index] : h.open()) {
    if (index < row.size() && !row[index].empty()) (*e.mutable_properties())[key] = row[index];
  }
  return e;
}

namespace {

// Where an import stands: the number of data rows (in file order) of which
// every one is acknowledged, for the file with this header.
struct Checkpoint {
  int64_t rows = 0;
  std::string header_hash;

  static std::string PathFor(const std::string& file) { return file + ".cxctl-checkpoint"; }
  static Checkpoint Load(const std::string& file) {
    Checkpoint c;
    std::ifstream in(PathFor(file));
    std::string key;
    while (in >> key) {
      if (key == "rows") in >> c.rows;
      else if (key == "header") in >> c.header_hash;
    }
    return c;
  }
  absl::Status Save(const std::string& file) const {
    const std::string path = PathFor(file), tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << "rows " << rows << "\nheader " << header_hash << "\n";
      out.flush();
      if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot write ", path, ": ", ec.message()));
    return absl::OkStatus();
  }
};

// One row on its way: its line, raw fields, and the request (or the error
// that kept it from being sent).
template <class Request>
struct Pending {
  int64_t line;
  std::vector<std::string> fields;
  absl::StatusOr<Request> request;
};

class ErrorReport {
 public:
  ErrorReport(const std::string& path, bool append) : path_(path), append_(append) {}
  // Rows of one batch are held and written in line order by Flush.
  void Add(int64_t line, const std::vector<std::string>& fields, const absl::Status& why) {
    held_.push_back({line, fields, why});
  }
  void Flush() {
    std::sort(held_.begin(), held_.end(), [](const Held& a, const Held& b) { return a.line < b.line; });
    for (const Held& h : held_) Write(h.line, h.fields, h.why);
    held_.clear();
  }
  bool used() const { return out_.is_open(); }

 private:
  struct Held {
    int64_t line;
    std::vector<std::string> fields;
    absl::Status why;
  };
  void Write(int64_t line, const std::vector<std::string>& fields, const absl::Status& why) {
    if (!out_.is_open()) {
      const bool fresh = !append_ || !std::filesystem::exists(path_);
      out_.open(path_, append_ ? std::ios::app : std::ios::trunc);
      if (fresh) out_ << shared::CsvLine({"line", "field", "error", "row"});
    }
    std::string field, message(why.message());
    if (auto v = shared::FieldViolations(why); !v.empty()) {
      field = v.front().field;
      message = v.front().description;
      // "requests[7].feedback.score" -> "feedback.score": the line says which row.
      if (absl::StartsWith(field, "requests[") || absl::StartsWith(field, "events[")) {
        if (const size_t dot = field.find("]."); dot != std::string::npos) field = field.substr(dot + 2);
      }
    }
    std::string raw = shared::CsvLine(fields);
    raw.resize(raw.size() - 2);  // without its line end
    out_ << shared::CsvLine({absl::StrCat(line), field, message, raw.substr(0, 2000)});
    out_.flush();
  }

  std::string path_;
  std::vector<Held> held_;
  bool append_;
  std::ofstream out_;
};

class Progress {
 public:
  Progress(std::ostream& out, bool bar, int64_t total_bytes) : out_(out), bar_(bar), total_(total_bytes) {}
  void Update(int64_t bytes, int64_t rows, bool final = false) {
    const absl::Time now = absl::Now();
    if (!final && now - last_ < (bar_ ? absl::Milliseconds(200) : absl::Seconds(5))) return;
    last_ = now;
    const double pct = total_ > 0 ? 100.0 * static_cast<double>(bytes) / static_cast<double>(total_) : 100;
    const double secs = absl::ToDoubleSeconds(now - start_);
    const double rate = secs > 0 ? static_cast<double>(rows) / secs : 0;
    if (bar_) {
      const int filled = static_cast<int>(pct / 100 * 30);
      out_ << absl::StrFormat("\r[%s%s] %3.0f%%  %d rows  %.0f rows/s ", std::string(filled, '#'),
                              std::string(30 - filled, '.'), pct, rows, rate);
      if (final) out_ << "\n";
    } else {
      out_ << absl::StrFormat("progress: %.0f%% %d rows %.0f rows/s\n", pct, rows, rate);
    }
    out_.flush();
  }
  double seconds() const { return absl::ToDoubleSeconds(absl::Now() - start_); }

 private:
  std::ostream& out_;
  bool bar_;
  int64_t total_;
  absl::Time start_ = absl::Now(), last_ = absl::InfinitePast();
};

// Retries a keyed write while the service is unavailable or slow.
template <class Fn>
auto WithRetries(Fn fn) -> decltype(fn()) {
  auto result = fn();
  absl::Duration backoff = absl::Milliseconds(200);
  for (int attempt = 0; attempt < 6 && !result.ok(); ++attempt) {
    const auto code = result.status().code();
    if (code != absl::StatusCode::kUnavailable && code != absl::StatusCode::kDeadlineExceeded &&
        code != absl::StatusCode::kResourceExhausted) {
      break;
    }
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
    result = fn();
  }
  return result;
}

void Count(cx::common::v1::ItemOutcome outcome, ImportSummary* s) {
  if (outcome == cx::common::v1::ITEM_OUTCOME_ACCEPTED) ++s->accepted;
  else if (outcome == cx::common::v1::ITEM_OUTCOME_DUPLICATE) ++s->duplicates;
  else ++s->rejected;
}

absl::Status ItemStatus(const cx::common::v1::ItemError& e) {
  std::vector<shared::FieldViolation> v;
  for (const auto& fv : e.field_violations()) v.push_back({fv.field(), fv.description()});
  if (!v.empty()) return shared::WithViolations(static_cast<absl::StatusCode>(e.code()), v);
  return absl::Status(static_cast<absl::StatusCode>(e.code() == 0 ? 3 : e.code()), e.message());
}

// Maps each row (`map`), adds the valid ones to `batch` (`add` gives the
// new item), sends it (`send`, retried while unavailable) and counts each
// item's outcome; rejected rows go to the error report.
template <class Batch, class Map, class Add, class Send>
absl::Status SendBatch(const std::vector<std::vector<std::string>>& rows, const std::vector<int64_t>& lines,
                       Batch* batch, ImportSummary* summary, ErrorReport* errors, Map map, Add add, Send send) {
  std::vector<size_t> sent;  // row index of each batch item
  for (size_t i = 0; i < rows.size(); ++i) {
    auto item = map(rows[i]);
    if (!item.ok()) {
      ++summary->rejected;
      errors->Add(lines[i], rows[i], item.status());
      continue;
    }
    *add(batch) = *std::move(item);
    sent.push_back(i);
  }
  if (sent.empty()) return absl::OkStatus();
  auto resp = WithRetries(send);
  if (!resp.ok()) return resp.status();
  for (const auto& res : resp->results()) {
    Count(res.outcome(), summary);
    const size_t i = sent[res.index()];
    if (res.outcome() == cx::common::v1::ITEM_OUTCOME_REJECTED) errors->Add(lines[i], rows[i], ItemStatus(res.error()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ImportSummary> RunImport(Clients& clients, ImportKind kind, const ImportOptions& options,
                                        std::ostream& progress_out, bool progress_bar) {
  std::ifstream in(options.file, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", options.file));
  std::error_code ec;
  const int64_t total_bytes = static_cast<int64_t>(std::filesystem::file_size(options.file, ec));
  shared::CsvReader reader(in);
  std::vector<std::string> names;
  auto got = reader.Next(&names);
  if (!got.ok()) return got.status();
  if (!*got) return InvalidField("file", "is empty: the first line must name the columns");
  const std::vector<std::string>& known =
      kind == ImportKind::kFeedback ? FeedbackColumns() : kind == ImportKind::kCustomers ? CustomerColumns() : EventColumns();
  auto header = Header::Of(names, known, kind == ImportKind::kEvents ? "prop." : kind == ImportKind::kCustomers ? "custom." : "");
  if (!header.ok()) return header.status();

  Checkpoint checkpoint;
  checkpoint.header_hash = shared::Sha256Hex(shared::CsvLine(names)).substr(0, 16);
  if (!options.restart) {
    Checkpoint stored = Checkpoint::Load(options.file);
    if (stored.header_hash == checkpoint.header_hash) checkpoint.rows = stored.rows;
  }
  ImportSummary summary;
  summary.resumed = checkpoint.rows;
  ErrorReport errors(options.errors_file.empty() ? options.file + ".errors.csv" : options.errors_file,
                     checkpoint.rows > 0);
  Progress progress(progress_out, progress_bar, total_bytes);
  if (checkpoint.rows > 0) progress_out << "resuming after " << checkpoint.rows << " rows done before\n";

  int64_t row_index = 0;  // data rows read, including resumed ones
  std::vector<std::string> fields;
  bool done = false;
  while (!done) {
    // Read one batch of rows.
    std::vector<int64_t> lines;
    std::vector<std::vector<std::string>> rows;
    while (static_cast<int>(rows.size()) < options.batch) {
      auto more = reader.Next(&fields);
      if (!more.ok()) return more.status();
      if (!*more) {
        done = true;
        break;
      }
      if (fields.size() == 1 && fields[0].empty()) continue;  // blank line
      if (++row_index <= checkpoint.rows) continue;
      lines.push_back(reader.line());
      rows.push_back(fields);
    }
    if (rows.empty()) break;
    summary.rows += static_cast<int64_t>(rows.size());

    if (kind == ImportKind::kFeedback) {
      fb::BatchSubmitFeedbackRequest batch;
      auto st = SendBatch(
          rows, lines, &batch, &summary, &errors,
          [&](const std::vector<std::string>& row) { return FeedbackFromRow(*header, row, DerivedId(kind, row)); },
          [](fb::BatchSubmitFeedbackRequest* b) { return b->add_requests(); },
          [&] { return clients.Call(clients.feedback(), &fb::FeedbackService::Stub::BatchSubmitFeedback, batch); });
      if (!st.ok()) return st;
    } else if (kind == ImportKind::kEvents) {
      jr::BatchRecordEventsRequest batch;
      auto st = SendBatch(
          rows, lines, &batch, &summary, &errors,
          [&](const std::vector<std::string>& row) { return EventFromRow(*header, row, DerivedId(kind, row)); },
          [](jr::BatchRecordEventsRequest* b) { return b->add_events(); },
          [&] { return clients.Call(clients.journey(), &jr::JourneyService::Stub::BatchRecordEvents, batch); });
      if (!st.ok()) return st;
    } else {
      // Customers: one upsert each (idempotent by the source's updated-at),
      // `parallel` at a time.
      std::vector<absl::Status> results(rows.size());
      std::vector<bool> created(rows.size(), false);
      std::atomic<size_t> next{0};
      std::vector<std::thread> workers;
      for (int w = 0; w < std::max(1, options.parallel); ++w) {
        workers.emplace_back([&] {
          for (size_t i = next++; i < rows.size(); i = next++) {
            auto req = CustomerFromRow(*header, rows[i], options.source_system);
            if (!req.ok()) {
              results[i] = req.status();
              continue;
            }
            auto resp = WithRetries([&] {
              return clients.Call(clients.journey(), &jr::JourneyService::Stub::UpsertCustomer, *req);
            });
            results[i] = resp.status();
            if (resp.ok()) created[i] = resp->created();
          }
        });
      }
      for (auto& w : workers) w.join();
      for (size_t i = 0; i < rows.size(); ++i) {
        if (results[i].ok()) {
          created[i] ? ++summary.accepted : ++summary.duplicates;  // an update of a known customer
        } else if (results[i].code() == absl::StatusCode::kInvalidArgument ||
                   results[i].code() == absl::StatusCode::kAlreadyExists ||
                   results[i].code() == absl::StatusCode::kFailedPrecondition) {
          ++summary.rejected;
          errors.Add(lines[i], rows[i], results[i]);
        } else {
          return results[i];  // the service is unreachable: stop at the checkpoint
        }
      }
    }
    errors.Flush();  // before the checkpoint moves past these rows
    checkpoint.rows = row_index;
    if (auto s = checkpoint.Save(options.file); !s.ok()) return s;
    progress.Update(reader.bytes(), summary.rows);
  }
  progress.Update(reader.bytes(), summary.rows, true);
  summary.seconds = progress.seconds();
  return summary;
}

}  // namespace cx::cxctl
