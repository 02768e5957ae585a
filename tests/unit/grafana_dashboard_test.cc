// docs/grafana/keyferry.json, the Grafana dashboard shipped with keyferry: it parses, its
// panels query the Prometheus datasource variable, every keyferry_*/process_* name its
// expressions use is a metric keyferry serves (KeyferryMetricNames: a renamed metric breaks
// this test), and every metric keyferry serves has a panel.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "observe/keyferry_metrics.h"

namespace kf::observe {
namespace {

const char* kDashboard = KF_TEST_DATA_DIR "/../../docs/grafana/keyferry.json";

nlohmann::json LoadDashboard() {
  std::ifstream in(kDashboard);
  EXPECT_TRUE(in) << kDashboard;
  std::stringstream text;
  text << in.rdbuf();
  return nlohmann::json::parse(text.str(), nullptr, false);
}

// Every panel, rows' nested panels included.
void CollectPanels(const nlohmann::json& list, std::vector<nlohmann::json>* out) {
  for (const auto& p : list) {
    out->push_back(p);
    if (p.contains("panels")) CollectPanels(p["panels"], out);
  }
}

TEST(GrafanaDashboard, ParsesAndUsesOnlyMetricsKeyferryServes) {
  nlohmann::json dash = LoadDashboard();
  ASSERT_TRUE(dash.is_object()) << kDashboard << " is not valid JSON";
  EXPECT_EQ(dash.value("title", ""), "keyferry");

  // A Prometheus datasource variable, which the panels use.
  std::string ds_var;
  for (const auto& v : dash["templating"]["list"]) {
    if (v.value("type", "") == "datasource" && v.value("query", "") == "prometheus") {
      ds_var = "${" + v.value("name", "") + "}";
    }
  }
  ASSERT_FALSE(ds_var.empty()) << "no Prometheus datasource variable";

  std::vector<nlohmann::json> panels;
  CollectPanels(dash["panels"], &panels);
  const std::vector<std::string> served = KeyferryMetricNames();
  const std::set<std::string> known(served.begin(), served.end());
  const std::regex metric(R"(\b(keyferry|process)_[a-zA-Z0-9_:]+)");
  std::set<std::string> used;
  std::set<int> ids;
  int queries = 0;
  for (const auto& p : panels) {
    EXPECT_TRUE(ids.insert(p.value("id", -1)).second) << "duplicate panel id " << p.dump();
    if (p.value("type", "") == "row") continue;
    EXPECT_FALSE(p.value("title", "").empty()) << p.dump();
    ASSERT_TRUE(p.contains("gridPos")) << p.value("title", "");
    EXPECT_EQ(p["datasource"].value("uid", ""), ds_var) << p.value("title", "");
    ASSERT_TRUE(p.contains("targets") && !p["targets"].empty()) << p.value("title", "");
    for (const auto& t : p["targets"]) {
      std::string expr = t.value("expr", "");
      ASSERT_FALSE(expr.empty()) << p.value("title", "");
      ++queries;
      EXPECT_EQ(t["datasource"].value("uid", ""), ds_var) << expr;
      for (auto it = std::sregex_iterator(expr.begin(), expr.end(), metric);
           it != std::sregex_iterator(); ++it) {
        std::string name = it->str();
        EXPECT_TRUE(known.contains(name))
            << "panel \"" << p.value("title", "") << "\" queries " << name
            << ", which keyferry does not serve (KeyferryMetricNames)";
        used.insert(name);
      }
    }
  }
  EXPECT_GE(queries, 15);
  // The other way round: every metric keyferry serves is on the dashboard.
  for (const auto& name : served) {
    EXPECT_TRUE(used.contains(name)) << name << " has no panel in " << kDashboard;
  }
}

}  // namespace
}  // namespace kf::observe
