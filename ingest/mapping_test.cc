#include "ingest/mapping.h"

#include "gtest/gtest.h"

namespace metricsgate::ingest {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

std::shared_ptr<const MappingConfig> MustParse(std::string_view yaml) {
  absl::StatusOr<std::shared_ptr<const MappingConfig>> config = MappingConfig::Parse(yaml);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : nullptr;
}

// The rules of statsd_exporter's README, unchanged.
constexpr std::string_view kReadmeMapping = R"(
mappings:
- match: "test.dispatcher.*.*.*"
  name: "dispatcher_events_total"
  labels:
    processor: "$1"
    action: "$2"
    outcome: "$3"
    job: "test_dispatcher"
- match: "*.signup.*.*"
  name: "signup_events_total"
  labels:
    provider: "$2"
    outcome: "$3"
    job: "${1}_server"
- match: "(.*)\\.(.*)--(.*)\\.status\\.(.*)\\.count"
  match_type: regex
  name: "request_total"
  labels:
    hostname: "$1"
    exec: "$2"
    protocol: "$3"
    code: "$4"
- match: "test.timing.*.*.*"
  observer_type: histogram
  histogram_options:
    buckets: [ 0.01, 0.025, 0.05, 0.1 ]
  name: "my_timer"
  labels:
    provider: "$2"
    outcome: "$3"
    job: "${1}_server"
- match: "limiter.*.*"
  match_metric_type: gauge
  name: "limiter_state"
  labels:
    limiter: "$1"
    state: "$2"
- match: "junk.*"
  action: drop
  name: "dropped"
)";

TEST(MappingTest, ReadmeRulesMapAsStatsdExporter) {
  auto config = MustParse(kReadmeMapping);
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(config->rule_count(), 6u);
  MappingConfig::Result result;
  ASSERT_TRUE(
      config->Find("test.dispatcher.FooProcessor.send.success", StatsdType::kCounter, &result));
  EXPECT_EQ(result.name, "dispatcher_events_total");
  EXPECT_EQ(result.labels, (Labels{{"action", "send"},
                                   {"job", "test_dispatcher"},
                                   {"outcome", "success"},
                                   {"processor", "FooProcessor"}}));
  ASSERT_TRUE(config->Find("foo_product.signup.facebook.failure", StatsdType::kCounter, &result));
  EXPECT_EQ(result.name, "signup_events_total");
  EXPECT_EQ(
      result.labels,
      (Labels{{"job", "foo_product_server"}, {"outcome", "failure"}, {"provider", "facebook"}}));
  ASSERT_TRUE(config->Find("foo_product.signup.facebook.failure.extra", StatsdType::kCounter,
                           &result) == false);
  ASSERT_TRUE(config->Find("web01.nginx--http.status.200.count", StatsdType::kCounter, &result));
  EXPECT_EQ(result.name, "request_total");
  EXPECT_EQ(
      result.labels,
      (Labels{{"code", "200"}, {"exec", "nginx"}, {"hostname", "web01"}, {"protocol", "http"}}));
  ASSERT_TRUE(config->Find("test.timing.a.b.c", StatsdType::kTimer, &result));
  EXPECT_EQ(result.name, "my_timer");
  EXPECT_EQ(*result.rule->buckets, (std::vector<double>{0.01, 0.025, 0.05, 0.1}));
  EXPECT_TRUE(config->Find("limiter.api.open", StatsdType::kGauge, &result));
  EXPECT_FALSE(config->Find("limiter.api.open", StatsdType::kCounter, &result));
  ASSERT_TRUE(config->Find("junk.x", StatsdType::kCounter, &result));
  EXPECT_TRUE(result.rule->drop);
  EXPECT_FALSE(config->Find("unmapped.name", StatsdType::kCounter, &result));
}

TEST(MappingTest, GlobsComeBeforeRegexesAndFirstGlobWins) {
  auto config = MustParse(R"(
mappings:
- match: "a\\.b\\.c"
  match_type: regex
  name: "regex_first_in_file"
- match: "a.*.c"
  name: "wildcard"
- match: "a.b.c"
  name: "literal"
)");
  MappingConfig::Result result;
  ASSERT_TRUE(config->Find("a.b.c", StatsdType::kCounter, &result));
  EXPECT_EQ(result.name, "wildcard");
}

TEST(MappingTest, DisabledOrderingPrefersLiteralSegments) {
  auto config = MustParse(R"(
defaults:
  glob_disable_ordering: true
mappings:
- match: "a.*.c"
  name: "wildcard"
- match: "a.b.*"
  name: "literal_earlier"
)");
  MappingConfig::Result result;
  ASSERT_TRUE(config->Find("a.b.c", StatsdType::kCounter, &result));
  EXPECT_EQ(result.name, "literal_earlier");
  ASSERT_TRUE(config->Find("a.x.c", StatsdType::kCounter, &result));
  EXPECT_EQ(result.name, "wildcard");
}

TEST(MappingTest, PrefixGlobsCaptureTheRestOfTheSegment) {
  auto config = MustParse(R"(
mappings:
- match: "api_*.requests.*"
  name: "api_requests_total"
  labels: {endpoint: "$1", code: "$2", whole: "$0"}
)");
  MappingConfig::Result result;
  ASSERT_TRUE(config->Find("api_users.requests.200", StatsdType::kCounter, &result));
  EXPECT_EQ(result.labels,
            (Labels{{"code", "200"}, {"endpoint", "users"}, {"whole", "api_users.requests.200"}}));
  EXPECT_FALSE(config->Find("web_users.requests.200", StatsdType::kCounter, &result));
}

TEST(MappingTest, TemplatesKeepWhatIsNotACapture) {
  auto config = MustParse(R"(
mappings:
- match: "x.*"
  name: "m_$1_${1}x_$9_$_${a}_$"
)");
  MappingConfig::Result result;
  ASSERT_TRUE(config->Find("x.y", StatsdType::kCounter, &result));
  EXPECT_EQ(result.name, "m_y_yx__$_${a}_$");
}

TEST(MappingTest, DefaultsApply) {
  auto config = MustParse(R"(
defaults:
  match_type: regex
  ttl: 45s
  histogram_options:
    buckets: [1, 2, +Inf]
mappings:
- match: "^t\\.(\\w+)$"
  name: "t_$1"
  help: "Timers."
  scale: 0.5
)");
  MappingConfig::Result result;
  ASSERT_TRUE(config->Find("t.x", StatsdType::kTimer, &result));
  EXPECT_EQ(result.name, "t_x");
  EXPECT_EQ(result.rule->help, "Timers.");
  EXPECT_EQ(result.rule->scale, 0.5);
  EXPECT_EQ(result.rule->ttl, std::chrono::seconds(45));
  EXPECT_EQ(*result.rule->buckets, (std::vector<double>{1, 2}));
}

TEST(MappingTest, SummariesTakeTheirOptionsAndDefaults) {
  auto config = MustParse(R"(
defaults:
  observer_type: summary
  summary_options:
    quantiles: [{quantile: 0.5, error: 0.05}, {quantile: 0.75, error: 0.01}]
    max_age: 5m
mappings:
- match: "a.*"
  name: "a"
- match: "b.*"
  name: "b"
  summary_options:
    quantiles: [{quantile: 0.99, error: 0.001}]
    age_buckets: 3
    buf_cap: 1000
- match: "c.*"
  name: "c"
  observer_type: histogram
- match: "d.*"
  name: "d"
  timer_type: summary
  quantiles: [{quantile: 0.9, error: 0.01}]
)");
  MappingConfig::Result result;
  ASSERT_TRUE(config->Find("a.x", StatsdType::kTimer, &result));
  ASSERT_NE(result.rule->summary, nullptr);
  EXPECT_EQ(result.rule->summary->quantiles, (std::vector<double>{0.5, 0.75}));
  EXPECT_EQ(result.rule->summary->max_age, std::chrono::minutes(5));
  EXPECT_EQ(result.rule->summary->age_buckets, 5);
  ASSERT_TRUE(config->Find("b.x", StatsdType::kTimer, &result));
  EXPECT_EQ(result.rule->summary->quantiles, (std::vector<double>{0.99}));
  EXPECT_EQ(result.rule->summary->max_age, std::chrono::minutes(5));
  EXPECT_EQ(result.rule->summary->age_buckets, 3);
  ASSERT_TRUE(config->Find("c.x", StatsdType::kTimer, &result));
  EXPECT_EQ(result.rule->summary, nullptr);
  ASSERT_TRUE(config->Find("d.x", StatsdType::kTimer, &result));
  EXPECT_EQ(result.rule->summary->quantiles, (std::vector<double>{0.9}));
}

// The shape of statsd_exporter's config.example.yml: both observers' options in `defaults`,
// native histogram options, unordered globs, `ttl: 0`.
TEST(MappingTest, ModernStarterConfigurationLoads) {
  auto config = MustParse(R"(
defaults:
  observer_type: histogram
  histogram_options:
    native_histogram_bucket_factor: 1.1
    native_histogram_max_buckets: 160
    buckets: [.005, .01, .025, .05, .1, .25, .5, 1, 2.5 ]
  summary_options:
    quantiles:
      - quantile: 0.99
        error: 0.001
      - quantile: 0.5
        error: 0.005
    max_age: 5m
    age_buckets: 2
    buf_cap: 1000
  match_type: glob
  glob_disable_ordering: true
  ttl: 0
mappings:
- match: "app.timing.*.*.*"
  name: "app_timer"
  help: "Latency."
  labels: {provider: "$2", outcome: "$3", job: "${1}_server"}
- match: "tight.timing.*.*.*"
  name: "tight_timer"
  histogram_options:
    native_histogram_bucket_factor: 1.005
    buckets: [0.01, 0.015, 0.02]
- match: "other.distribution.*.*.*"
  observer_type: summary
  name: "other_distribution"
# - match: "."
#   match_type: regex
#   action: drop
)");
  ASSERT_NE(config, nullptr);
  MappingConfig::Result result;
  ASSERT_TRUE(config->Find("app.timing.a.b.c", StatsdType::kTimer, &result));
  EXPECT_EQ(result.rule->summary, nullptr);
  EXPECT_EQ(result.rule->buckets->size(), 9u);
  EXPECT_EQ(result.rule->ttl, std::chrono::milliseconds(0));
  ASSERT_TRUE(config->Find("tight.timing.a.b.c", StatsdType::kTimer, &result));
  EXPECT_EQ(*result.rule->buckets, (std::vector<double>{0.01, 0.015, 0.02}));
  ASSERT_TRUE(config->Find("other.distribution.a.b.c", StatsdType::kDistribution, &result));
  ASSERT_NE(result.rule->summary, nullptr);
  EXPECT_EQ(result.rule->summary->quantiles, (std::vector<double>{0.99, 0.5}));
  EXPECT_EQ(result.rule->summary->max_age, std::chrono::minutes(5));
  EXPECT_EQ(result.rule->summary->age_buckets, 2);
}

TEST(MappingTest, EmptyFileHasNoRules) {
  EXPECT_EQ(MustParse("")->rule_count(), 0u);
  EXPECT_EQ(MustParse("mappings: []\n")->rule_count(), 0u);
}

TEST(MappingTest, ErrorsNameTheProblemAndItsLine) {
  struct Case {
    std::string_view yaml;
    std::string_view error;
  };
  for (const Case& c : {
           Case{"mappings:\n- match: a.b\n  nme: x\n", "line 3: unknown key \"nme\" in a mapping"},
           Case{"defaults:\n  observer: histogram\n",
                "line 2: unknown key \"observer\" in defaults"},
           Case{"mapping:\n- match: a\n", "line 1: unknown key \"mapping\" in the mapping file"},
           Case{"mappings:\n- match: a.b\n", "line 2: a mapping needs a \"name\""},
           Case{"mappings:\n- name: x\n", "line 2: a mapping needs \"match\""},
           Case{"mappings:\n- match: a..b\n  name: x\n",
                "line 2: invalid glob \"a..b\": a segment is `*`, `prefix*` or letters, digits, "
                "`_`, `-`"},
           Case{"mappings:\n- match: a.*b\n  name: x\n",
                "line 2: invalid glob \"a.*b\": a segment is `*`, `prefix*` or letters, digits, "
                "`_`, `-`"},
           Case{"mappings:\n- match: \"(\"\n  match_type: regex\n  name: x\n",
                "line 2: invalid regex \"(\": missing ): ("},
           Case{"mappings:\n- match: a\n  name: x\n  labels: {\"bad-key\": v}\n",
                "line 4: invalid label name \"bad-key\""},
           Case{"mappings:\n- match: a\n  name: x\n  action: keep\n",
                "line 4: action must be map or drop"},
           Case{"mappings:\n- match: a\n  name: x\n  match_metric_type: set\n",
                "line 4: match_metric_type must be counter, gauge or observer"},
           Case{"mappings:\n- match: a\n  name: x\n  buckets: [2, 1]\n",
                "line 4: \"buckets\" must be finite and increasing"},
           Case{"mappings:\n- match: a\n  name: x\n  ttl: forever\n",
                "line 4: not a duration: \"forever\" (want a number and a unit, as 10s, 500ms, "
                "1m)"},
           Case{"mappings:\n- match: a\n  name: x\n  observer_type: median\n",
                "line 4: observer_type must be histogram or summary, not \"median\""},
           Case{"mappings:\n- match: a\n  name: x\n  observer_type: histogram\n"
                "  summary_options: {max_age: 1m}\n",
                "line 2: cannot use histogram observer and summary options at the same time"},
           Case{"mappings:\n- match: a\n  name: x\n  observer_type: summary\n"
                "  histogram_options: {buckets: [1]}\n",
                "line 2: cannot use summary observer and histogram options at the same time"},
           Case{"mappings:\n- match: a\n  name: x\n  summary_options:\n"
                "    quantiles: [{quantile: 1.5, error: 0.1}]\n",
                "line 5: a quantile must be between 0 and 1"},
           Case{"mappings:\n- match: a\n  name: x\n  summary_options: {age_buckets: 0}\n",
                "line 4: age_buckets must be a whole number from 1 to 1000"},
           Case{"mappings:\n- match: a\n  name: x\n  scale: lots\n",
                "line 4: \"scale\" must be a number"},
           Case{"mappings: [\n", "line 2: invalid YAML: end of sequence flow not found"},
       }) {
    EXPECT_EQ(MappingConfig::Parse(c.yaml).status(),
              absl::InvalidArgumentError(std::string(c.error)))
        << c.yaml;
  }
}

TEST(MappingTest, LoadNamesTheFile) {
  EXPECT_EQ(MappingConfig::Load("/nonexistent/mapping.yml").status(),
            absl::NotFoundError("/nonexistent/mapping.yml: cannot read the mapping file"));
}

}  // namespace
}  // namespace metricsgate::ingest
