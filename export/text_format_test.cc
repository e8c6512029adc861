#include "export/text_format.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace metricsgate::exporter {
namespace {

using storage::MetricFamily;
using storage::MetricType;

std::string Value(double v) {
  std::string out;
  AppendValue(v, &out);
  return out;
}

TEST(TextFormatTest, FormatsValuesAsGoStrconvG) {
  // Expected strings are what Go's strconv.FormatFloat(v, 'g', -1, 64) returns.
  EXPECT_EQ(Value(0), "0");
  EXPECT_EQ(Value(-0.0), "0");
  EXPECT_EQ(Value(1), "1");
  EXPECT_EQ(Value(-1), "-1");
  EXPECT_EQ(Value(0.1), "0.1");
  EXPECT_EQ(Value(3.5), "3.5");
  EXPECT_EQ(Value(-7), "-7");
  EXPECT_EQ(Value(999999), "999999");
  EXPECT_EQ(Value(123456.5), "123456.5");
  EXPECT_EQ(Value(1e6), "1e+06");
  EXPECT_EQ(Value(1234567), "1.234567e+06");
  EXPECT_EQ(Value(608863452348.1149), "6.088634523481149e+11");
  EXPECT_EQ(Value(0.0001), "0.0001");
  EXPECT_EQ(Value(0.00001), "1e-05");
  EXPECT_EQ(Value(1.5e-7), "1.5e-07");
  EXPECT_EQ(Value(1e100), "1e+100");
  EXPECT_EQ(Value(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(Value(std::numeric_limits<double>::max()), "1.7976931348623157e+308");
  EXPECT_EQ(Value(std::numeric_limits<double>::denorm_min()), "5e-324");
  EXPECT_EQ(Value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(Value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(Value(std::nan("")), "NaN");
}

TEST(TextFormatTest, RendersSortedFamiliesWithHelpAndType) {
  std::vector<MetricFamily> families = {
      {"zeta", "Last.", MetricType::kGauge, {{{}, -2.5}}},
      {"deploys_web", "Deploys.", MetricType::kCounter, {{{}, 1}}},
      {"mid", "Labelled.", MetricType::kCounter, {{{{"reason", "b"}}, 2}, {{{"reason", "a"}}, 1}}},
  };
  EXPECT_EQ(RenderText(families),
            "# HELP deploys_web Deploys.\n"
            "# TYPE deploys_web counter\n"
            "deploys_web 1\n"
            "# HELP mid Labelled.\n"
            "# TYPE mid counter\n"
            "mid{reason=\"a\"} 1\n"
            "mid{reason=\"b\"} 2\n"
            "# HELP zeta Last.\n"
            "# TYPE zeta gauge\n"
            "zeta -2.5\n");
}

TEST(TextFormatTest, EscapesHelpAndLabelValues) {
  std::vector<MetricFamily> families = {
      {"m",
       "a \\ back\nslash \"quoted\"",
       MetricType::kUntyped,
       {{{{"l1", "x\"y"}, {"l2", "a\\b\nc"}}, 1}}},
  };
  EXPECT_EQ(RenderText(families),
            "# HELP m a \\\\ back\\nslash \"quoted\"\n"
            "# TYPE m untyped\n"
            "m{l1=\"x\\\"y\",l2=\"a\\\\b\\nc\"} 1\n");
}

// Series lines are written eight bytes at a time where no byte is special: every length of
// name, label name and value around those eight, with each byte to escape at each place of a
// value, comes out as writing it byte by byte gives.
TEST(TextFormatTest, EscapesEveryByteWhereverItFallsInALine) {
  const auto escaped = [](const std::string& value) {
    std::string out;
    for (char c : value) {
      if (c == '\\' || c == '"') out.push_back('\\');
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out.push_back(c);
    }
    return out;
  };
  int lines = 0;
  for (int name_size = 1; name_size <= 19; name_size += 3) {
    const std::string name = "n" + std::string(name_size - 1, 'a');
    for (int value_size = 0; value_size <= 18; ++value_size) {
      for (int at = 0; at <= value_size; ++at) {
        for (const char special : {'\\', '"', '\n', 'x'}) {
          std::string value(value_size, 'v');
          if (at < value_size) value[at] = special;
          const std::string label(1 + value_size % 9, 'l');
          std::vector<MetricFamily> families = {
              {name, "", MetricType::kGauge, {{{{label, value}, {label + "z", "tail"}}, 3}}}};
          const std::string expected = "# TYPE " + name + " gauge\n" + name + "{" + label + "=\"" +
                                       escaped(value) + "\"," + label + "z=\"tail\"} 3\n";
          ASSERT_EQ(RenderText(families), expected) << name << " " << value;
          ++lines;
        }
      }
    }
  }
  EXPECT_EQ(lines, 7 * 190 * 4);
}

TEST(TextFormatTest, RendersHistogramsAsClientGolang) {
  storage::Sample sample;
  sample.labels = {{"env", "prod"}};
  sample.histogram = storage::HistogramValue{
      {{0.005, 1}, {2.5, 3}, {std::numeric_limits<double>::infinity(), 4}}, 12.5};
  storage::Sample bare;
  bare.histogram = storage::HistogramValue{{{std::numeric_limits<double>::infinity(), 0}}, 0};
  std::vector<MetricFamily> families = {{"t", "Timer.", MetricType::kHistogram, {sample, bare}}};
  EXPECT_EQ(RenderText(families),
            "# HELP t Timer.\n"
            "# TYPE t histogram\n"
            "t_bucket{le=\"+Inf\"} 0\n"
            "t_sum 0\n"
            "t_count 0\n"
            "t_bucket{env=\"prod\",le=\"0.005\"} 1\n"
            "t_bucket{env=\"prod\",le=\"2.5\"} 3\n"
            "t_bucket{env=\"prod\",le=\"+Inf\"} 4\n"
            "t_sum{env=\"prod\"} 12.5\n"
            "t_count{env=\"prod\"} 4\n");
}

TEST(TextFormatTest, RendersSummariesAsClientGolang) {
  storage::Sample sample;
  sample.labels = {{"env", "prod"}};
  sample.summary = storage::SummaryValue{{{0.5, 0.25}, {0.99, std::nan("")}}, 3.5, 7};
  EXPECT_EQ(RenderText({{"s", "Summary.", MetricType::kSummary, {sample}}}),
            "# HELP s Summary.\n"
            "# TYPE s summary\n"
            "s{env=\"prod\",quantile=\"0.5\"} 0.25\n"
            "s{env=\"prod\",quantile=\"0.99\"} NaN\n"
            "s_sum{env=\"prod\"} 3.5\n"
            "s_count{env=\"prod\"} 7\n");
}

TEST(TextFormatTest, MergesFamiliesOfTheSameName) {
  std::vector<MetricFamily> families = {
      {"drops_total", "Drops.", MetricType::kCounter, {{{{"address", "b"}}, 2}}},
      {"a", "A.", MetricType::kGauge, {{{}, 1}}},
      {"drops_total", "Other help.", MetricType::kCounter, {{{{"address", "a"}}, 1}}},
  };
  EXPECT_EQ(RenderText(families),
            "# HELP a A.\n"
            "# TYPE a gauge\n"
            "a 1\n"
            "# HELP drops_total Drops.\n"
            "# TYPE drops_total counter\n"
            "drops_total{address=\"a\"} 1\n"
            "drops_total{address=\"b\"} 2\n");
}

TEST(TextFormatTest, WritesNoHelpLineWithoutHelpAndTakesTheFirstHelpGiven) {
  std::vector<MetricFamily> families = {
      {"pushed", "", MetricType::kUntyped, {{{{"job", "a"}}, 1}}},
      {"pushed", "Help from b.", MetricType::kUntyped, {{{{"job", "b"}}, 2}}},
      {"bare", "", MetricType::kGauge, {{{}, 3}}},
  };
  EXPECT_EQ(RenderText(families),
            "# TYPE bare gauge\n"
            "bare 3\n"
            "# HELP pushed Help from b.\n"
            "# TYPE pushed untyped\n"
            "pushed{job=\"a\"} 1\n"
            "pushed{job=\"b\"} 2\n");
}

TEST(TextFormatTest, SkipsEmptyFamiliesAndRendersNothingForNone) {
  EXPECT_EQ(RenderText({}), "");
  EXPECT_EQ(RenderText({{"empty", "No samples.", MetricType::kGauge, {}}}), "");
}

}  // namespace
}  // namespace metricsgate::exporter
