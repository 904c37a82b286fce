// Grades exercise 8.1 (exercises/08-probes/depth_experiment.hpp).
// Usage: grade_depth_experiment <depth.csv> <answers.json>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "depth_experiment.hpp"
#include "grader/grader.hpp"

namespace {

// The grader's own fit, to judge the answers against the student's measurement.
double fitted_growth(const std::vector<double>& v) {
  const double count = double(v.size());
  double km = 0, ym = 0, cov = 0, var = 0;
  for (size_t k = 0; k < v.size(); ++k) km += double(k) / count, ym += std::log(v[k]) / count;
  for (size_t k = 0; k < v.size(); ++k) {
    cov += (double(k) - km) * (std::log(v[k]) - ym);
    var += (double(k) - km) * (double(k) - km);
  }
  return std::exp(cov / var);
}

// depth.csv rows: experiment,"norm",residual,index,layer,metric,value,seed -> per
// "norm residual" the activation variances in block order (of the first seed, when the probe
// ran several with --seeds).
std::map<std::string, std::vector<double>> read_depth_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error(path + " not found: run the probe first (step 1 of the exercise)");
  std::map<std::string, std::vector<double>> curves;
  std::string line, first_seed;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::string field;
    bool quoted = false;
    for (char ch : line) {
      if (ch == '"')
        quoted = !quoted;
      else if (ch == ',' && !quoted)
        fields.push_back(field), field.clear();
      else
        field += ch;
    }
    fields.push_back(field);
    if (fields.size() < 7 || fields[5] != "activation_variance") continue;
    if (fields.size() >= 8 && !first_seed.empty() && fields[7] != first_seed) continue;
    if (fields.size() >= 8) first_seed = fields[7];
    curves[fields[1] + " " + fields[2]].push_back(std::stod(fields[6]));
  }
  return curves;
}

std::string describe(double value) {
  std::ostringstream os;
  os.precision(4);
  os << value;
  return os.str();
}

}  // namespace

int main(int argc, char** argv) {
  course::Grader grader("exercise 8.1, activation growth with depth");
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <depth.csv> <answers.json>\n", argv[0]);
    return 2;
  }

  grader.check("growth_per_block is exact on geometric series", [&]() -> std::string {
    for (double r : {0.5, 1.0, 2.1}) {
      std::vector<double> v;
      for (int k = 0; k < 9; ++k) v.push_back(3.0 * std::pow(r, k));
      const double got = course::growth_per_block(v);
      if (std::abs(got - r) > 1e-9 * r)
        return "for variances 3 r^k with r = " + describe(r) + " it returns " + describe(got);
    }
    return "";
  });

  grader.check("growth_per_block fits every block, not only the ends", [&]() -> std::string {
    // 2^k with the middle blocks pushed up early and down late: the ends say 2.0, the fit less.
    std::vector<double> v;
    const double bumps[] = {0, 1, 0.5, 0, -0.5, -1, 0};
    for (int k = 0; k < 7; ++k) v.push_back(std::pow(2.0, k) * std::exp(bumps[k]));
    const double got = course::growth_per_block(v), want = fitted_growth(v);
    if (std::abs(got - want) > 1e-9 * want)
      return "for variances 2^k e^(0, 1, 0.5, 0, -0.5, -1, 0) it returns " + describe(got) +
             ", a least-squares fit over all blocks gives " + describe(want);
    return "";
  });

  std::map<std::string, std::vector<double>> curves;
  grader.check("the measured CSV has the four curves", [&]() -> std::string {
    curves = read_depth_csv(argv[1]);
    for (const char* key : {"none plain", "bn plain", "none skipinit", "bn skipinit"})
      if (curves[key].size() < 3)
        return std::string("depth.csv has no curve for ") + key +
               ": run the probe with --norm none --norm bn and both residual forms";
    return "";
  });

  nlohmann::json answers;
  const auto answer = [&](const std::string& key, bool truth, const std::string& evidence) {
    grader.check("answer " + key, [&, key, truth, evidence]() -> std::string {
      if (answers.is_null()) {
        std::ifstream in(argv[2]);
        if (!in) return std::string(argv[2]) + " not found";
        answers = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
        if (answers.is_discarded()) return std::string(argv[2]) + " is not valid JSON";
      }
      if (!answers.contains(key) || !answers[key].is_boolean())
        return key + " is not answered yet (write true or false)";
      if (answers[key].get<bool>() != truth) return "your measurement says otherwise: " + evidence;
      return "";
    });
  };
  if (curves.size() >= 4) {
    const double none = fitted_growth(curves["none plain"]), bn = fitted_growth(curves["bn plain"]);
    const auto& skip = curves["none skipinit"];
    const double spread =
        *std::max_element(skip.begin(), skip.end()) / *std::min_element(skip.begin(), skip.end());
    // "Exponential": more than 1.25x per block, i.e. over 6x across the nine blocks of ResNet-20.
    answer("none_plain_grows_exponentially", none > 1.25,
           "the variance of none (plain) grows " + describe(none) + "x per block");
    answer("bn_plain_grows_exponentially", bn > 1.25,
           "the variance of bn (plain) grows " + describe(bn) + "x per block");
    answer("skipinit_keeps_none_bounded", spread < 2,
           "the variance of none (skipinit) varies by a factor " + describe(spread) +
               " over the blocks");
  }
  return grader.result();
}
