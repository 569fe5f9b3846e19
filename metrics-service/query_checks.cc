#include "metrics-service/query_checks.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/time/civil_time.h"

namespace cx::metrics {

absl::Status Invalid(const Violations& v) { return shared::WithViolations(absl::StatusCode::kInvalidArgument, v); }

absl::Time IntervalBoundary(absl::Time t, v1::Interval interval, absl::TimeZone tz, bool floor) {
  const absl::CivilSecond cs = absl::ToCivilSecond(t, tz);
  switch (interval) {
    case v1::INTERVAL_HOUR: {
      const absl::CivilHour h(cs);
      return absl::FromCivil(floor ? h : h + 1, tz);
    }
    case v1::INTERVAL_DAY: {
      const absl::CivilDay d(cs);
      return absl::FromCivil(floor ? d : d + 1, tz);
    }
    case v1::INTERVAL_WEEK: {
      const absl::CivilDay monday = absl::PrevWeekday(absl::CivilDay(cs) + 1, absl::Weekday::monday);
      return absl::FromCivil(floor ? monday : monday + 7, tz);
    }
    default: {
      const absl::CivilMonth m(cs);
      return absl::FromCivil(floor ? m : m + 1, tz);
    }
  }
}

absl::TimeZone CheckTimeZone(const std::string& name, const std::string& field, Violations* v) {
  absl::TimeZone tz = absl::UTCTimeZone();
  const std::string zone = name.empty() ? "UTC" : name;
  if (zone.size() > 64 || !absl::LoadTimeZone(zone, &tz)) v->push_back({field, "is not a known IANA time zone"});
  return tz;
}

}  // namespace cx::metrics
