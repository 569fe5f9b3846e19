#include "shared/csv.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cx::shared {
namespace {

using ::testing::ElementsAre;

std::vector<std::vector<std::string>> ReadAll(const std::string& text, absl::Status* error = nullptr) {
  std::istringstream in(text);
  CsvReader reader(in);
  std::vector<std::vector<std::string>> out;
  std::vector<std::string> fields;
  for (;;) {
    auto more = reader.Next(&fields);
    if (!more.ok()) {
      if (error) *error = more.status();
      break;
    }
    if (!*more) break;
    out.push_back(fields);
  }
  return out;
}

TEST(CsvTest, QuotesEscapesAndLineEnds) {
  auto rows = ReadAll("a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\nlast,,\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_THAT(rows[0], ElementsAre("a", "b", "c"));
  EXPECT_THAT(rows[1], ElementsAre("x, y", "say \"hi\"", "two\nlines"));
  EXPECT_THAT(rows[2], ElementsAre("last", "", ""));
}

TEST(CsvTest, ByteOrderMarkAndMissingFinalNewline) {
  auto rows = ReadAll("\xEF\xBB\xBFid,name\n1,Zoë");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_THAT(rows[0], ElementsAre("id", "name"));
  EXPECT_THAT(rows[1], ElementsAre("1", "Zoë"));
}

TEST(CsvTest, LinesAreCountedAcrossQuotedBreaks) {
  std::istringstream in("h\n\"a\nb\"\nc\n");
  CsvReader reader(in);
  std::vector<std::string> f;
  ASSERT_TRUE(*reader.Next(&f));
  EXPECT_EQ(reader.line(), 1);
  ASSERT_TRUE(*reader.Next(&f));
  EXPECT_EQ(reader.line(), 2);
  ASSERT_TRUE(*reader.Next(&f));
  EXPECT_EQ(reader.line(), 4);
  EXPECT_FALSE(*reader.Next(&f));
}

TEST(CsvTest, MalformedInputIsAnErrorNamingTheLine) {
  absl::Status error;
  ReadAll("ok\n\"never closed\n", &error);
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(error.message().find("line 2"), std::string::npos) << error;
  ReadAll("a\"b\n", &error);
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument);
  ReadAll("\"a\"b\n", &error);
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument);
  ReadAll(std::string(CsvReader::kMaxRecordBytes + 10, 'x'), &error);
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument);
}

TEST(CsvTest, WriterRoundTrips) {
  const std::vector<std::string> fields = {"plain", "a,b", "q\"uote", "line\nbreak", " padded ", ""};
  auto rows = ReadAll(CsvLine(fields) + CsvLine({"x"}));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], fields);
  EXPECT_THAT(rows[1], ElementsAre("x"));
}

}  // namespace
}  // namespace cx::shared
