#include "synthetic/synthetic.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>

namespace onewindow::synthetic {
namespace {

constexpr std::string_view qingdao_code = "370200";

// ---- Randomness ----
// xoshiro256** seeded through splitmix64: both are specified down to the bit, so the same seed
// gives the same numbers with every compiler and standard library, which <random>'s
// distributions do not promise.

std::uint64_t splitmix64(std::uint64_t& state) {
  state += 0x9E3779B97F4A7C15ULL;
  std::uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

constexpr std::uint64_t rotate_left(std::uint64_t value, int count) {
  return (value << count) | (value >> (64 - count));
}

class Random {
 public:
  // Different streams of one seed are independent, so that adding enterprises to a run does not
  // change its persons.
  Random(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t mixer = seed ^ (stream * 0xD1B54A32D192ED03ULL);
    for (std::uint64_t& word : state_) word = splitmix64(mixer);
  }

  std::uint64_t next() {
    const std::uint64_t result = rotate_left(state_[1] * 5, 7) * 9;
    const std::uint64_t shifted = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= shifted;
    state_[3] = rotate_left(state_[3], 45);
    return result;
  }

  // Uniform in [0, bound), bound > 0. Values below 2^64 mod bound are drawn again, so that every
  // result is equally likely (a plain modulo favours the small ones).
  std::uint64_t below(std::uint64_t bound) {
    const std::uint64_t threshold = (0 - bound) % bound;
    for (;;) {
      const std::uint64_t value = next();
      if (value >= threshold) return value % bound;
    }
  }

  // Uniform in [low, high].
  std::int64_t between(std::int64_t low, std::int64_t high) {
    return low + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(high - low) + 1));
  }

  bool percent(int chance) { return below(100) < static_cast<std::uint64_t>(chance); }

  template <typename T, std::size_t size>
  const T& pick(const T (&items)[size]) {
    return items[below(size)];
  }
  template <typename T>
  const T& pick(std::span<const T> items) {
    return items[below(items.size())];
  }

 private:
  std::array<std::uint64_t, 4> state_{};
};

// A choice among entries with integer weights (anything with a .weight member).
class WeightedIndex {
 public:
  WeightedIndex() = default;
  template <typename Entries>
  explicit WeightedIndex(const Entries& entries) {
    for (const auto& entry : entries) add(entry.weight);
  }
  void add(std::uint64_t weight) {
    total_ += weight;
    cumulative_.push_back(total_);
  }
  bool empty() const { return total_ == 0; }
  // Precondition: !empty().
  std::size_t pick(Random& random) const {
    const std::uint64_t value = random.below(total_);
    return static_cast<std::size_t>(std::upper_bound(cumulative_.begin(), cumulative_.end(), value) -
                                    cumulative_.begin());
  }

 private:
  std::vector<std::uint64_t> cumulative_;
  std::uint64_t total_ = 0;
};

// A choice in a short table of entries with a .weight, without building an index.
template <typename Entry>
const Entry& pick_weighted(Random& random, std::span<const Entry> entries) {
  std::uint64_t total = 0;
  for (const Entry& entry : entries) total += entry.weight;
  std::uint64_t value = random.below(total);
  for (const Entry& entry : entries) {
    if (value < entry.weight) return entry;
    value -= entry.weight;
  }
  return entries.back();  // not reached: value < total
}

// A bijection of [0, size) that looks random: a keyed mix of the smallest power-of-two range
// holding `size`, repeated until the value falls inside (cycle walking keeps it a bijection).
// Numbering records 0, 1, 2, ... and passing the numbers through it gives codes that cannot
// repeat without remembering the ones given.
class Permutation {
 public:
  Permutation(std::uint64_t size, std::uint64_t seed) : size_(size) {
    while ((std::uint64_t{1} << bits_) < size) ++bits_;
    mask_ = (std::uint64_t{1} << bits_) - 1;
    for (std::size_t round = 0; round < rounds; ++round) {
      keys_[round] = splitmix64(seed) & mask_;
      multipliers_[round] = (splitmix64(seed) | 1) & mask_;  // odd: invertible modulo 2^bits
    }
  }

  // Precondition: index < size.
  std::uint64_t operator()(std::uint64_t index) const {
    std::uint64_t value = index;
    do value = mix(value);
    while (value >= size_);
    return value;
  }

 private:
  static constexpr std::size_t rounds = 3;

  // Each step (add, xor with a right shift, multiply by an odd number, all modulo 2^bits) is a
  // bijection of the power-of-two range, so their composition is one too.
  std::uint64_t mix(std::uint64_t value) const {
    for (std::size_t round = 0; round < rounds; ++round) {
      value = (value + keys_[round]) & mask_;
      value ^= value >> (bits_ / 2 + 1);
      value = (value * multipliers_[round]) & mask_;
    }
    return value;
  }

  std::uint64_t size_;
  int bits_ = 2;
  std::uint64_t mask_ = 0;
  std::array<std::uint64_t, rounds> keys_{};
  std::array<std::uint64_t, rounds> multipliers_{};
};

// ---- Tables ----
// Approximations good enough to look real; not statistics to rely on.

struct Weighted {
  std::string_view text;
  std::uint32_t weight;
};

// Roughly the national frequencies (per ten thousand people), most common first.
constexpr Weighted surnames[] = {
    {"王", 712}, {"李", 700}, {"张", 674}, {"刘", 510}, {"陈", 461}, {"杨", 322}, {"黄", 245},
    {"赵", 229}, {"吴", 205}, {"周", 204}, {"徐", 159}, {"孙", 152}, {"马", 141}, {"朱", 132},
    {"胡", 129}, {"郭", 116}, {"何", 114}, {"林", 105}, {"高", 104}, {"罗", 96},  {"郑", 93},
    {"梁", 87},  {"谢", 77},  {"宋", 72},  {"唐", 71},  {"许", 67},  {"韩", 67},  {"邓", 64},
    {"冯", 64},  {"曹", 63},  {"彭", 62},  {"曾", 61},  {"肖", 59},  {"田", 57},  {"董", 55},
    {"潘", 52},  {"袁", 52},  {"蔡", 49},  {"蒋", 49},  {"余", 47},  {"于", 47},  {"杜", 45},
    {"叶", 44},  {"程", 44},  {"魏", 41},  {"苏", 41},  {"吕", 40},  {"丁", 40},  {"任", 39},
    {"卢", 38},  {"姚", 38},  {"沈", 38},  {"钟", 37},  {"姜", 37},  {"崔", 35},  {"谭", 35},
    {"陆", 34},  {"范", 32},  {"汪", 32},  {"廖", 32},  {"石", 32},  {"金", 31},  {"韦", 30},
    {"贾", 30},  {"夏", 29},  {"付", 29},  {"方", 29},  {"邹", 27},  {"熊", 27},  {"白", 27},
    {"孟", 27},  {"秦", 26},  {"邱", 26},  {"侯", 26},  {"江", 26},  {"尹", 25},  {"薛", 25},
    {"闫", 24},  {"段", 24},  {"雷", 24},  {"龙", 22},  {"黎", 22},  {"史", 22},  {"陶", 22},
    {"贺", 21},  {"毛", 20},  {"郝", 20},  {"顾", 20},  {"龚", 19},  {"邵", 19},  {"万", 19},
    {"武", 18},  {"钱", 18},  {"戴", 17},  {"严", 17},  {"孔", 17},  {"向", 16},  {"常", 16},
    {"汤", 15},  {"康", 15},  {"乔", 14},  {"牛", 14},  {"欧阳", 4}, {"司马", 1}, {"上官", 1},
    {"诸葛", 1},
};

constexpr std::string_view male_given_characters[] = {
    "伟", "强", "磊", "军", "勇", "杰", "涛", "明", "超", "刚", "平", "辉", "鹏", "华", "飞",
    "鑫", "波", "斌", "宇", "浩", "凯", "健", "俊", "帆", "帅", "旭", "宁", "龙", "林", "阳",
    "东", "峰", "建", "国", "志", "文", "海", "亮", "成", "博", "轩", "睿", "泽", "晨", "航",
    "昊", "然", "振", "庆", "福",
};
constexpr std::string_view female_given_characters[] = {
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀", "玲", "燕", "红", "梅", "琳", "婷",
    "雪", "慧", "莹", "丹", "萍", "洁", "颖", "倩", "琴", "晶", "欣", "怡", "涵", "雨", "萱",
    "佳", "诗", "思", "梦", "璐", "瑶", "彤", "悦", "妍", "桂", "兰", "凤", "英", "淑", "蕾",
};
// Characters that begin two-character given names of either sex.
constexpr std::string_view shared_given_characters[] = {
    "子", "一", "嘉", "晓", "春", "秋", "新", "永", "金", "玉", "家", "安", "心", "天", "思",
    "雅", "俊", "文", "明", "立",
};

// GB 3304 codes; Han first, then the minorities most present in Shandong.
constexpr Weighted ethnicities[] = {
    {"01", 9850}, {"03", 40}, {"11", 35}, {"10", 20}, {"02", 15}, {"08", 10},
    {"06", 8},    {"15", 8},  {"04", 4},  {"05", 4},  {"07", 3},  {"12", 3},
};

// Ages in whole years [first, last], weighted like the city's population.
struct AgeBand {
  int first;
  int last;
  std::uint32_t weight;
};
constexpr AgeBand age_bands[] = {
    {0, 4, 40},   {5, 9, 50},   {10, 14, 50}, {15, 19, 45}, {20, 24, 50}, {25, 29, 65},
    {30, 34, 85}, {35, 39, 80}, {40, 44, 70}, {45, 49, 75}, {50, 54, 85}, {55, 59, 80},
    {60, 64, 60}, {65, 69, 55}, {70, 74, 40}, {75, 79, 25}, {80, 84, 15}, {85, 89, 8},
    {90, 95, 3},
};
constexpr int adult_age = 18;

// Marital status (GB/T 2261.2) by age: 10 unmarried, 20 married, 30 widowed, 40 divorced,
// 90 not stated.
constexpr std::string_view marital_codes[] = {"10", "20", "30", "40", "90"};
struct MaritalBand {
  int first_age;
  std::array<std::uint32_t, 5> weights;
};
constexpr MaritalBand marital_bands[] = {
    {18, {97, 2, 0, 0, 1}},  {22, {55, 42, 0, 2, 1}}, {30, {12, 79, 1, 7, 1}},
    {40, {4, 84, 3, 8, 1}},  {60, {2, 80, 12, 5, 1}}, {75, {1, 55, 40, 3, 1}},
};

constexpr std::string_view mobile_prefixes[] = {
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151",
    "152", "153", "155", "156", "157", "158", "159", "180", "181", "182", "183", "184",
    "185", "186", "187", "188", "189",
};

constexpr std::string_view road_names[] = {
    "香港中路", "东海西路", "延安三路", "南京路",   "山东路",   "辽宁路",   "威海路",
    "重庆南路", "黑龙江中路", "长江中路", "嘉陵江路", "正阳路",   "烟台前路", "福州路",
    "宁夏路",   "哈尔滨路", "金水路",   "九水东路", "海尔路",   "松岭路",   "株洲路",
    "银川东路", "深圳路",   "江西路",   "台东一路", "人民路",   "文化路",   "建设路",
    "和平路",   "胜利路",   "振华路",   "兴华路",   "长春路",   "青威路",   "泰山路",
    "黄河路",   "淮河路",   "珠江路",   "崂山路",   "广州路",   "云南路",   "四川路",
    "湘潭路",   "大连路",   "北京路",   "上海路",   "杭州路",   "昆明路",
};

constexpr std::string_view village_suffixes[] = {"家庄", "家村", "家疃", "家屯", "家埠", "家洼", "家沟"};

constexpr std::string_view huangdao_towns[] = {"藏马镇", "泊里镇", "大场镇", "大村镇", "六汪镇",
                                               "王台镇", "张家楼镇", "宝山镇", "海青镇", "琅琊镇"};
constexpr std::string_view jimo_towns[] = {"田横镇", "金口镇", "移风店镇", "段泊岚镇"};
constexpr std::string_view jiaozhou_towns[] = {"李哥庄镇", "胶莱镇", "铺集镇", "里岔镇", "洋河镇"};
constexpr std::string_view pingdu_towns[] = {"南村镇", "大泽山镇", "明村镇", "田庄镇", "蓼兰镇", "崔家集镇",
                                             "古岘镇", "仁兆镇", "新河镇", "云山镇", "旧店镇", "店子镇"};
constexpr std::string_view laixi_towns[] = {"店埠镇", "院上镇", "日庄镇", "南墅镇", "河头店镇", "马连庄镇",
                                            "姜山镇", "夏格庄镇"};

// Population (ten thousands, roughly) and the share of village addresses, by county-level
// division. A division config/divisions.yaml adds later gets a middling weight and no villages.
struct DivisionProfile {
  std::string_view code;
  std::uint32_t weight;
  int rural_percent;
  std::span<const std::string_view> towns;
};
constexpr DivisionProfile division_profiles[] = {
    {"370202", 51, 0, {}},   {"370203", 104, 0, {}},  {"370211", 190, 15, huangdao_towns},
    {"370212", 51, 0, {}},   {"370213", 74, 0, {}},   {"370214", 111, 0, {}},
    {"370215", 135, 30, jimo_towns}, {"370281", 101, 30, jiaozhou_towns},
    {"370283", 121, 50, pingdu_towns}, {"370285", 73, 45, laixi_towns},
};
constexpr std::uint32_t unknown_division_weight = 60;

// Brand names are two different characters of these.
constexpr std::string_view brand_characters[] = {
    "海", "润", "瑞", "华", "鑫", "德", "泰", "恒", "盛", "通", "达", "信", "诚", "源", "兴",
    "隆", "丰", "宏", "远", "博", "金", "明", "安", "康", "中", "宇", "万", "嘉", "和", "聚",
    "汇", "创", "佳", "美", "新", "天", "正", "永", "昌", "祥", "弘", "晟", "益", "卓", "辰",
    "鼎", "腾", "峰", "晨", "启", "联", "合", "泽", "宸", "凯", "骏", "融", "科", "众", "力",
    "禾", "思", "景", "蓝", "青", "东", "方", "长", "鸿", "鹏", "川", "林", "诺", "捷", "帆",
    "越", "朗", "悦", "航", "瀚", "铭", "森",
};

// An activity: its word in names and its business scope, split the way licences print it
// into general items and items that need a permit.
struct Activity {
  std::string_view word;
  std::string_view general;
  std::string_view licensed;
};

constexpr Activity company_activities[] = {
    {"机械制造", "通用设备制造（不含特种设备制造）；机械零件、零部件加工；机械设备销售", ""},
    {"电子科技", "技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广；电子元器件制造；电子产品销售", ""},
    {"商贸", "日用百货销售；五金产品批发；建筑材料销售；家用电器销售", ""},
    {"国际贸易", "货物进出口；技术进出口；纺织、服装及家庭用品批发", ""},
    {"建筑工程", "园林绿化工程施工；土石方工程施工", "建设工程施工"},
    {"餐饮管理", "餐饮管理；食品销售（仅销售预包装食品）", "餐饮服务"},
    {"物流", "国内货物运输代理；普通货物仓储服务（不含危险化学品等需许可审批的项目）；装卸搬运", "道路货物运输（不含危险货物）"},
    {"海洋生物科技", "海洋生物活性物质提取、纯化、合成生物技术研发；水产品批发；水产品零售", ""},
    {"网络科技", "软件开发；信息系统集成服务；网络技术服务；数据处理服务", ""},
    {"房地产经纪", "房地产经纪；物业管理；住房租赁", ""},
    {"食品", "食品销售（仅销售预包装食品）", "食品生产；食品销售"},
    {"橡胶制品", "橡胶制品制造；橡胶制品销售", ""},
    {"服装", "服装制造；服装服饰批发；针纺织品销售", ""},
    {"汽车服务", "机动车修理和维护；汽车零配件零售；洗车服务", ""},
    {"广告传媒", "广告设计、代理；广告制作；组织文化艺术交流活动", ""},
    {"教育咨询", "教育咨询服务（不含涉许可审批的教育培训活动）；信息咨询服务（不含许可类信息咨询服务）", ""},
    {"医疗器械", "第一类医疗器械销售；第二类医疗器械销售", "第三类医疗器械经营"},
    {"环保科技", "环保咨询服务；污水处理及其再生利用；固体废物治理", ""},
    {"新能源", "新兴能源技术研发；太阳能发电技术服务；光伏设备及元器件销售", ""},
    {"化工", "化工产品销售（不含许可类化工产品）", ""},
};

constexpr Activity partnership_activities[] = {
    {"股权投资", "以自有资金从事投资活动；企业管理咨询", ""},
    {"创业投资", "创业投资（限投资未上市企业）；以自有资金从事投资活动", ""},
    {"企业管理咨询", "企业管理咨询；信息咨询服务（不含许可类信息咨询服务）", ""},
};

constexpr Activity individual_trades[] = {
    {"便利店", "日用百货销售；食品销售（仅销售预包装食品）", ""},
    {"餐馆", "", "餐饮服务"},
    {"理发店", "理发服务；美容服务", ""},
    {"水果店", "新鲜水果零售；新鲜蔬菜零售", ""},
    {"五金店", "五金产品零售；建筑材料销售", ""},
    {"汽车修理部", "机动车修理和维护；洗车服务", ""},
    {"服装店", "服装服饰零售；鞋帽零售", ""},
    {"小吃店", "", "小餐饮"},
    {"海鲜批发部", "水产品批发；水产品零售", ""},
    {"家电维修部", "日用电器修理；通讯设备修理", ""},
    {"茶叶店", "茶具销售；食品销售（仅销售预包装食品）", ""},
    {"烧烤店", "", "餐饮服务"},
    {"建材经营部", "建筑材料销售；建筑装饰材料销售", ""},
};

constexpr std::string_view cooperative_crops[] = {
    "果蔬种植", "蔬菜种植", "农机服务", "花生种植", "生猪养殖", "葡萄种植",
    "茶叶种植", "土地股份", "蓝莓种植", "大樱桃种植", "肉鸡养殖",
};
constexpr std::string_view cooperative_scope =
    "组织收购、销售成员种植的农产品；为本社成员提供农业生产资料的购买；开展与农业生产经营有关的技术培训、"
    "技术交流和信息咨询服务";

enum class EntityType {
  limited_liability_company,
  joint_stock_company,
  branch,
  sole_proprietorship,
  partnership,
  farmers_cooperative,
  individual_business,
  foreign_invested,
};

struct EntityTypeProfile {
  EntityType type;
  std::string_view code;  // as in legal_person.yaml
  char uscc_type;         // GB 32100 position 2 under authority 9: 1 enterprise, 2 individual
                          // business, 3 farmers' cooperative
  std::uint32_t weight;
};
constexpr EntityTypeProfile entity_types[] = {
    {EntityType::limited_liability_company, "limited_liability_company", '1', 600},
    {EntityType::joint_stock_company, "joint_stock_company", '1', 20},
    {EntityType::branch, "branch", '1', 50},
    {EntityType::sole_proprietorship, "sole_proprietorship", '1', 40},
    {EntityType::partnership, "partnership", '1', 30},
    {EntityType::farmers_cooperative, "farmers_cooperative", '3', 30},
    {EntityType::individual_business, "individual_business", '2', 200},
    {EntityType::foreign_invested, "foreign_invested", '1', 30},
};

constexpr Weighted statuses[] = {{"active", 85}, {"deregistered", 9}, {"revoked", 4}, {"moved_out", 2}};

// Registered capital in ten thousand yuan, as registered: mostly round sums.
struct Capital {
  std::int64_t amount;
  std::uint32_t weight;
};
constexpr Capital company_capitals[] = {{10, 8},   {50, 15},  {100, 20}, {200, 12}, {300, 8},  {500, 12},
                                        {1000, 10}, {2000, 4}, {3000, 2}, {5000, 2}, {10000, 1}};
constexpr Capital large_capitals[] = {{500, 10},  {1000, 20}, {2000, 15},
                                      {5000, 20}, {10000, 15}, {30000, 5}};
constexpr Capital small_capitals[] = {{1, 10}, {2, 10}, {3, 15}, {5, 25}, {10, 20}, {20, 10}, {50, 10}};
constexpr Capital cooperative_capitals[] = {{10, 10}, {50, 25}, {100, 30}, {200, 20}, {500, 10}, {1000, 5}};
constexpr Capital partnership_capitals[] = {{100, 20}, {500, 25}, {1000, 25}, {3000, 20}, {10000, 10}};

struct EmployeeBand {
  std::int64_t first;
  std::int64_t last;
  std::uint32_t weight;
};
constexpr EmployeeBand small_employee_bands[] = {{1, 5, 35},    {6, 20, 30},    {21, 50, 17},
                                                 {51, 200, 12}, {201, 1000, 5}, {1001, 5000, 1}};
constexpr EmployeeBand large_employee_bands[] = {{1, 5, 5},     {6, 20, 15},     {21, 50, 20},
                                                 {51, 200, 30}, {201, 1000, 22}, {1001, 5000, 8}};
constexpr EmployeeBand individual_employee_bands[] = {{1, 1, 50}, {2, 2, 30}, {3, 3, 15}, {4, 8, 5}};

// Characters of GB 32100 codes: digits and upper-case letters but I, O, S, V and Z.
constexpr std::string_view credit_code_alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
constexpr std::uint64_t issued_by_market_size = 31ULL * 31 * 31 * 31 * 31 * 31;  // "MA" + 6
constexpr std::uint64_t organization_code_size = 100'000'000;                    // 8 digits
// From this day market regulation assigns organization codes itself, beginning "MA".
constexpr Date market_assigned_codes_from{2015, 10, 1};
constexpr Date earliest_establishment{1990, 1, 1};
constexpr Date cooperatives_from{2007, 7, 1};  // the Farmers' Specialised Cooperatives Law

// ---- Text ----

void append_digits(std::string& out, std::int64_t value, int width) {
  char digits[20];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  for (int pad = count; pad < width; ++pad) out += '0';
  while (count > 0) out += digits[--count];
}

void append_number(std::string& out, std::int64_t value) { append_digits(out, value, 1); }

void append_date(std::string& out, Date date) {
  append_digits(out, date.year(), 4);
  out += '-';
  append_digits(out, date.month(), 2);
  out += '-';
  append_digits(out, date.day(), 2);
}

// Cents as "123.45".
void append_money(std::string& out, std::int64_t cents) {
  append_number(out, cents / 100);
  out += '.';
  append_digits(out, cents % 100, 2);
}

// "崂山区" -> "崂山", "胶州市" -> "胶州": the short name used in branch names.
std::string_view short_division_name(std::string_view name) {
  constexpr std::size_t character = 3;  // bytes of one of these characters in UTF-8
  if (name.size() >= 3 * character && (name.ends_with("区") || name.ends_with("市"))) {
    return name.substr(0, name.size() - character);
  }
  return name;
}

void append_scope(std::string& out, const Activity& activity) {
  if (!activity.general.empty()) {
    out += "一般项目：";
    out += activity.general;
    out += "。（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）";
  }
  if (!activity.licensed.empty()) {
    out += "许可项目：";
    out += activity.licensed;
    out += "。（依法须经批准的项目，经相关部门批准后方可开展经营活动，具体经营项目以相关部门批准文件或许可证件为准）";
  }
}

// ---- Dates ----

Date years_before(Date date, int years) {
  std::chrono::year_month_day shifted = date.calendar() - std::chrono::years(years);
  if (!shifted.ok()) shifted = shifted.year() / shifted.month() / std::chrono::last;  // 29 February
  return Date(std::chrono::sys_days(shifted));
}

std::int64_t days_between(Date earlier, Date later) { return (later.days() - earlier.days()).count(); }

int age_on(Date birth, Date day) {
  int age = day.year() - birth.year();
  if (std::pair(day.month(), day.day()) < std::pair(birth.month(), birth.day())) --age;
  return age;
}

// A day in [low, high], weighted toward the recent end (the later of two uniform draws):
// registrations have grown year by year.
Date recent_day(Random& random, Date low, Date high) {
  const std::int64_t span = days_between(low, high);
  const std::int64_t offset = std::max(random.between(0, span), random.between(0, span));
  return low.plus_days(static_cast<int>(offset));
}

// ---- Errors ----

Error write_failed(const std::filesystem::path& path, const std::string& reason) {
  return Error(ErrorKind::unavailable, "synthetic.write_failed", "cannot write " + path.string() + ": " + reason,
               nlohmann::json{{"path", path.string()}});
}

// ---- Files ----

// One CSV file, written under a temporary name and renamed by commit(). Rows are gathered in
// memory and written, converted if need be, a block at a time.
class CsvFile {
 public:
  CsvFile(std::string registry, std::string department, std::filesystem::path path, TextEncoding encoding)
      : registry_(std::move(registry)),
        department_(std::move(department)),
        path_(std::move(path)),
        temporary_path_(path_.string() + ".partial"),
        encoding_(encoding) {}
  CsvFile(const CsvFile&) = delete;
  CsvFile& operator=(const CsvFile&) = delete;
  ~CsvFile() { discard(); }

  Status open(const std::vector<std::string>& header) {
    stream_.open(temporary_path_, std::ios::binary | std::ios::trunc);
    if (!stream_) return write_failed(temporary_path_, std::strerror(errno));
    opened_ = true;
    write_csv_record(pending_, header);
    return ok_status();
  }

  Status append(const std::vector<std::string>& fields) {
    write_csv_record(pending_, fields);
    ++rows_;
    if (pending_.size() >= block_bytes) return flush();
    return ok_status();
  }

  Status close() {
    ONEWINDOW_TRY(flush());
    stream_.close();
    if (!stream_) return write_failed(temporary_path_, "the file could not be closed");
    return ok_status();
  }

  Status commit() {
    std::error_code error;
    std::filesystem::rename(temporary_path_, path_, error);
    if (error) return write_failed(path_, error.message());
    opened_ = false;
    return ok_status();
  }

  // Removes the temporary file if it was not committed.
  void discard() {
    if (!opened_) return;
    if (stream_.is_open()) stream_.close();
    std::error_code ignored;
    std::filesystem::remove(temporary_path_, ignored);
    opened_ = false;
  }

  GeneratedFile summary() const { return GeneratedFile{registry_, department_, path_, rows_}; }

 private:
  static constexpr std::size_t block_bytes = 1 << 18;

  Status flush() {
    if (pending_.empty()) return ok_status();
    if (encoding_ == TextEncoding::utf8) {
      stream_.write(pending_.data(), static_cast<std::streamsize>(pending_.size()));
    } else {
      // A block ends at a row's end, so it never splits a character.
      Result<std::string> converted = from_utf8(pending_, encoding_);
      if (!converted.ok()) return converted.take_error();
      stream_.write(converted->data(), static_cast<std::streamsize>(converted->size()));
    }
    pending_.clear();
    if (!stream_) return write_failed(temporary_path_, std::strerror(errno));
    return ok_status();
  }

  std::string registry_;
  std::string department_;
  std::filesystem::path path_;
  std::filesystem::path temporary_path_;
  TextEncoding encoding_;
  std::ofstream stream_;
  std::string pending_;
  std::int64_t rows_ = 0;
  bool opened_ = false;
};

// Calls the caller's callback every hundredth of the run, and once at the end.
class ProgressReporter {
 public:
  ProgressReporter(const std::function<void(const Progress&)>& callback, std::int64_t total)
      : callback_(callback), total_(total), step_(std::max<std::int64_t>(1, (total + 99) / 100)) {}

  void record_done() {
    ++done_;
    if (callback_ && done_ % step_ == 0) report();
  }
  void finish() {
    if (callback_ && reported_ != done_) report();
  }

 private:
  void report() {
    reported_ = done_;
    callback_(Progress{done_, total_});
  }
  const std::function<void(const Progress&)>& callback_;
  std::int64_t total_;
  std::int64_t step_;
  std::int64_t done_ = 0;
  std::int64_t reported_ = -1;
};

// ---- The generator ----

struct Place {
  const Division* division;
  int rural_percent;
  std::span<const std::string_view> towns;
  std::uint32_t weight;
};

// The names of the province and the city, as addresses and names of enterprises use them.
struct Region {
  std::string prefix;     // 山东省青岛市, at the start of every address
  std::string city_word;  // 青岛, at the start of company names
  std::string city_name;  // 青岛市, before a district's name
};

// A person who may represent an enterprise: an adult of this run.
struct Representative {
  std::array<char, CitizenId::length> id_number;
  std::string name;
  Date birth_date;
};

class Generator {
 public:
  Generator(const Options& options, std::vector<Place> places, Region region)
      : options_(options),
        yesterday_(options.today.plus_days(-1)),
        adult_until_(years_before(yesterday_, adult_age)),
        places_(std::move(places)),
        region_(std::move(region)),
        place_index_(places_),
        surname_index_(surnames),
        ethnicity_index_(ethnicities),
        age_index_(age_bands),
        entity_type_index_(entity_types),
        status_index_(statuses) {
    for (const MaritalBand& band : marital_bands) {
      WeightedIndex& index = marital_indexes_.emplace_back();
      for (std::uint32_t weight : band.weights) index.add(weight);
    }
    for (const Place& place : places_) rural_place_index_.add(std::uint64_t{place.weight} * place.rural_percent);
    // Days before today at which each age band begins and ends; offsets are 1 (yesterday) to
    // day_span_ (the oldest).
    for (const AgeBand& band : age_bands) {
      const std::int64_t youngest = std::max<std::int64_t>(1, days_between(years_before(options.today, band.first), options.today));
      const std::int64_t oldest = days_between(years_before(options.today, band.last + 1), options.today) - 1;
      band_days_.emplace_back(youngest, oldest);
    }
    day_span_ = band_days_.back().second;
  }

  std::int64_t identifier_capacity() const {
    return female_sequences * day_span_ * static_cast<std::int64_t>(places_.size());
  }

  Status write_persons(CsvFile& police, CsvFile& civil, ProgressReporter& progress) {
    Random random(options_.seed, 1);
    Random sampling(options_.seed, 2);
    reservoir_capacity_ = static_cast<std::size_t>(std::min<std::int64_t>(options_.enterprises, max_representatives));
    sequence_counters_.assign(static_cast<std::size_t>(day_span_) * places_.size() * 2, 0);

    std::vector<std::string> row(9);
    std::vector<std::string> civil_row(2);
    std::int64_t adults_seen = 0;
    for (std::int64_t person = 0; person < options_.persons; ++person) {
      const bool male = random.below(2) == 0;
      const auto [youngest, oldest] = band_days_[age_index_.pick(random)];
      const std::int64_t days_before = random.between(youngest, oldest);
      const std::size_t place = place_index_.pick(random);
      const Identity identity = allocate_identity(place, days_before, male);
      const Date birth_date = options_.today.plus_days(static_cast<int>(-identity.days_before));

      std::array<char, CitizenId::length> id_number{};
      ONEWINDOW_TRY(make_citizen_id(*places_[identity.place].division, birth_date, identity.sequence, id_number));

      std::string& id_text = row[0];
      id_text.assign(id_number.data(), id_number.size());
      std::string& name = row[1];
      name.clear();
      append_person_name(name, random, male);
      row[2] = male ? "1" : "2";
      row[3].clear();
      append_date(row[3], birth_date);
      row[4] = ethnicities[ethnicity_index_.pick(random)].text;

      // Most people are registered where they were first registered; some have moved.
      const std::size_t household_place = random.percent(88) ? identity.place : place_index_.pick(random);
      row[5].clear();
      append_home_address(row[5], random, places_[household_place]);
      row[6] = places_[household_place].division->code;
      if (random.percent(65)) {
        row[7] = row[5];
      } else {
        row[7].clear();
        append_home_address(row[7], random, places_[place_index_.pick(random)]);
      }
      row[8].clear();
      append_phone(row[8], random);
      ONEWINDOW_TRY(police.append(row));

      const bool adult = birth_date <= adult_until_;
      if (adult && random.percent(80)) {
        civil_row[0] = id_text;
        civil_row[1] = marital_status(random, age_on(birth_date, options_.today));
        ONEWINDOW_TRY(civil.append(civil_row));
      }
      if (adult && reservoir_capacity_ > 0) {
        // Reservoir sampling: every adult has the same chance to be kept, in one pass and
        // bounded memory.
        if (representatives_.size() < reservoir_capacity_) {
          representatives_.push_back(Representative{id_number, name, birth_date});
        } else {
          const std::uint64_t slot = sampling.below(static_cast<std::uint64_t>(adults_seen) + 1);
          if (slot < reservoir_capacity_) representatives_[slot] = Representative{id_number, name, birth_date};
        }
      }
      if (adult) ++adults_seen;
      progress.record_done();
    }
    return ok_status();
  }

  Status write_enterprises(CsvFile& market, CsvFile& tax, CsvFile& hrss, ProgressReporter& progress) {
    Random random(options_.seed, 3);
    const Permutation market_assigned(issued_by_market_size, options_.seed ^ 0x4D41ULL);
    const Permutation digit_codes(organization_code_size, options_.seed ^ 0x3030ULL);
    std::uint64_t market_assigned_count = 0;
    std::uint64_t digit_count = 0;

    std::vector<std::string> row(11);
    std::vector<std::string> tax_row(3);
    std::vector<std::string> hrss_row(3);
    std::string representative_name;
    for (std::int64_t enterprise = 0; enterprise < options_.enterprises; ++enterprise) {
      const EntityTypeProfile& type = entity_types[entity_type_index_.pick(random)];
      const bool cooperative = type.type == EntityType::farmers_cooperative;
      const std::size_t place_number =
          cooperative && !rural_place_index_.empty() ? rural_place_index_.pick(random) : place_index_.pick(random);
      const Place& place = places_[place_number];

      // The legal representative, and the earliest day they could have founded it.
      Date earliest = cooperative ? std::max(earliest_establishment, cooperatives_from) : earliest_establishment;
      std::string_view representative_id;
      if (!representatives_.empty()) {
        const Representative& chosen = representatives_[random.below(representatives_.size())];
        representative_name = chosen.name;
        representative_id = std::string_view(chosen.id_number.data(), chosen.id_number.size());
        earliest = std::max(earliest, years_before(chosen.birth_date, -adult_age));
      } else {
        representative_name.clear();
        append_person_name(representative_name, random, random.below(2) == 0);
      }
      earliest = std::min(earliest, yesterday_);
      const Date established = recent_day(random, earliest, yesterday_);
      const std::string_view status = statuses[status_index_.pick(random)].text;

      // The code: authority 9 (market regulation), type, division, a body no other enterprise of
      // the run has, then the two check characters.
      std::string& uscc = row[0];
      uscc.clear();
      uscc += '9';
      uscc += type.uscc_type;
      uscc += place.division->code;
      if (established >= market_assigned_codes_from) {
        std::uint64_t body = market_assigned(market_assigned_count++);
        uscc += "MA";
        char characters[6];
        for (char& character : characters) {
          character = credit_code_alphabet[body % credit_code_alphabet.size()];
          body /= credit_code_alphabet.size();
        }
        uscc.append(characters, 6);
      } else {
        append_digits(uscc, static_cast<std::int64_t>(digit_codes(digit_count++)), 8);
      }
      const Result<char> organization_check = organization_code_check_character(std::string_view(uscc).substr(8, 8));
      if (!organization_check.ok()) return organization_check.error();
      uscc += *organization_check;
      const Result<char> credit_check = unified_social_credit_code_check_character(uscc);
      if (!credit_check.ok()) return credit_check.error();
      uscc += *credit_check;

      std::string& name = row[1];
      std::string& scope = row[6];
      std::string& capital = row[5];
      name.clear();
      scope.clear();
      capital.clear();
      std::string brand;
      append_brand(brand, random);
      switch (type.type) {
        case EntityType::limited_liability_company:
        case EntityType::joint_stock_company:
        case EntityType::foreign_invested:
        case EntityType::branch:
        case EntityType::sole_proprietorship: {
          const Activity& activity = random.pick(company_activities);
          name += region_.city_word;
          name += brand;
          name += activity.word;
          if (type.type == EntityType::sole_proprietorship) {
            name += "中心";
          } else if (type.type == EntityType::joint_stock_company) {
            name += "股份有限公司";
          } else {
            name += random.percent(85) ? "有限公司" : "有限责任公司";
          }
          if (type.type == EntityType::branch) {
            name += short_division_name(place.division->name);
            name += "分公司";
          }
          append_scope(scope, activity);
          break;
        }
        case EntityType::partnership: {
          const Activity& activity = random.pick(partnership_activities);
          name += region_.city_word;
          name += brand;
          name += activity.word;
          name += random.percent(80) ? "合伙企业（有限合伙）" : "合伙企业（普通合伙）";
          append_scope(scope, activity);
          break;
        }
        case EntityType::farmers_cooperative:
          append_local_prefix(name, place);
          name += brand;
          name += random.pick(cooperative_crops);
          name += "专业合作社";
          append_scope(scope, Activity{"", cooperative_scope, ""});
          break;
        case EntityType::individual_business: {
          const Activity& trade = random.pick(individual_trades);
          name += place.division->name;
          name += brand;
          name += trade.word;
          append_scope(scope, trade);
          break;
        }
      }
      const std::int64_t capital_cents = registered_capital_cents(random, type.type);
      if (capital_cents >= 0) append_money(capital, capital_cents);

      row[2] = type.code;
      row[3] = representative_name;
      row[4] = representative_id;
      row[7].clear();
      if (cooperative || (place.rural_percent > 0 && random.percent(place.rural_percent / 2))) {
        append_village_address(row[7], random, place);
      } else {
        append_business_address(row[7], random, place);
      }
      row[8] = place.division->code;
      row[9].clear();
      append_date(row[9], established);
      row[10] = status;
      ONEWINDOW_TRY(market.append(row));

      tax_row[0] = uscc;
      tax_row[1] = tax_registration_status(random, status);
      const bool large = capital_cents >= 100'000 || type.type == EntityType::joint_stock_company ||
                         type.type == EntityType::foreign_invested;
      const bool small = type.type == EntityType::individual_business || type.type == EntityType::sole_proprietorship;
      tax_row[2] = random.percent(small ? 3 : large ? 70 : 20) ? "general" : "small_scale";
      ONEWINDOW_TRY(tax.append(tax_row));

      if (random.percent(type.type == EntityType::individual_business ? 35 : 90)) {
        hrss_row[0] = uscc;
        hrss_row[1].clear();
        append_date(hrss_row[1], std::min(established.plus_days(static_cast<int>(random.between(0, 120))), yesterday_));
        hrss_row[2].clear();
        append_number(hrss_row[2], status == "active" ? employee_count(random, type.type, large) : 0);
        ONEWINDOW_TRY(hrss.append(hrss_row));
      }
      progress.record_done();
    }
    return ok_status();
  }

 private:
  // At most this many representatives are kept; more would only cost memory.
  static constexpr std::int64_t max_representatives = 1'000'000;
  // Sequences 001-999: odd ones for men (500), even ones from 002 for women (499).
  static constexpr std::int64_t male_sequences = 500;
  static constexpr std::int64_t female_sequences = 499;
  static constexpr std::int64_t sequence_stride = 257;  // coprime with 500 and with 499 (a prime)

  struct Identity {
    std::size_t place;
    std::int64_t days_before;
    int sequence;
  };

  // The next free sequence number of the (division, birth date, sex), so that no two persons
  // share an ID number: a counter per cell rather than a set of the numbers given. The n-th
  // person of a cell gets the n-th value of a bijection of the cell's sequences (a stride
  // coprime with both capacities, from an offset of its own), so that numbers spread over
  // 001-999 instead of piling up at 001. A full cell moves the person to the next older day
  // (then division); only runs near the capacity checked in generate() ever see one.
  Identity allocate_identity(std::size_t place, std::int64_t days_before, bool male) {
    const std::int64_t capacity = male ? male_sequences : female_sequences;
    const std::int64_t cells = day_span_ * static_cast<std::int64_t>(places_.size());
    std::int64_t cell = static_cast<std::int64_t>(place) * day_span_ + (days_before - 1);
    for (std::int64_t attempt = 0; attempt < cells; ++attempt, cell = (cell + 1) % cells) {
      std::uint16_t& counter = sequence_counters_[static_cast<std::size_t>(cell * 2 + (male ? 1 : 0))];
      if (counter < capacity) {
        std::uint64_t mixer = options_.seed ^ static_cast<std::uint64_t>(cell * 2 + (male ? 1 : 0));
        const std::int64_t offset = static_cast<std::int64_t>(splitmix64(mixer) % static_cast<std::uint64_t>(capacity));
        const std::int64_t slot = (counter * sequence_stride + offset) % capacity;
        const int sequence = static_cast<int>(male ? 2 * slot + 1 : 2 * slot + 2);
        ++counter;
        return Identity{static_cast<std::size_t>(cell / day_span_), cell % day_span_ + 1, sequence};
      }
    }
    assert(false && "generate() checks the capacity first");
    return Identity{place, days_before, 0};
  }

  static Status make_citizen_id(const Division& division, Date birth_date, int sequence,
                                std::array<char, CitizenId::length>& out) {
    std::string text;
    text.reserve(CitizenId::length);
    text += division.code;
    append_digits(text, birth_date.year(), 4);
    append_digits(text, birth_date.month(), 2);
    append_digits(text, birth_date.day(), 2);
    append_digits(text, sequence, 3);
    const Result<char> check = citizen_id_check_character(text);
    if (!check.ok()) return check.error();
    text += *check;
    std::copy(text.begin(), text.end(), out.begin());
    return ok_status();
  }

  void append_person_name(std::string& out, Random& random, bool male) {
    out += surnames[surname_index_.pick(random)].text;
    const auto& own = male ? std::span<const std::string_view>(male_given_characters)
                           : std::span<const std::string_view>(female_given_characters);
    if (random.percent(30)) {
      out += random.pick(own);
      return;
    }
    out += random.percent(35) ? random.pick(shared_given_characters) : random.pick(own);
    out += random.pick(own);
  }

  void append_brand(std::string& out, Random& random) {
    const std::size_t first = random.below(std::size(brand_characters));
    std::size_t second = random.below(std::size(brand_characters) - 1);
    if (second >= first) ++second;
    out += brand_characters[first];
    out += brand_characters[second];
  }

  // "平度市" for a county-level city, "青岛市即墨区" for a district.
  void append_local_prefix(std::string& out, const Place& place) const {
    if (place.division->name.ends_with("区")) out += region_.city_name;
    out += place.division->name;
  }

  void append_street(std::string& out, Random& random, const Place& place) const {
    out += region_.prefix;
    out += place.division->name;
    out += random.pick(road_names);
    append_number(out, random.between(1, 399));
    out += "号";
  }

  void append_village_address(std::string& out, Random& random, const Place& place) const {
    out += region_.prefix;
    out += place.division->name;
    if (!place.towns.empty()) out += random.pick(place.towns);
    out += surnames[surname_index_.pick(random)].text;
    out += random.pick(village_suffixes);
    out += "村";
    append_number(out, random.between(1, 260));
    out += "号";
  }

  // 山东省青岛市市南区香港中路123号4单元501室, or a house in a village.
  void append_home_address(std::string& out, Random& random, const Place& place) const {
    if (place.rural_percent > 0 && random.percent(place.rural_percent)) {
      append_village_address(out, random, place);
      return;
    }
    append_street(out, random, place);
    const std::uint64_t form = random.below(100);
    if (form < 10) return;  // a house of its own
    if (form < 35) {
      append_number(out, random.between(1, 30));
      out += "号楼";
    }
    append_number(out, random.between(1, 6));
    out += "单元";
    append_number(out, random.between(1, 18));
    append_digits(out, random.between(1, 4), 2);
    out += "室";
  }

  void append_business_address(std::string& out, Random& random, const Place& place) const {
    append_street(out, random, place);
    const std::uint64_t form = random.below(100);
    if (form < 40) return;
    if (form < 70) {
      append_number(out, random.between(1, 30));
      out += "层";
      return;
    }
    append_number(out, random.between(1, 25));
    append_digits(out, random.between(1, 20), 2);
    out += "室";
  }

  static void append_phone(std::string& out, Random& random) {
    out += random.pick(mobile_prefixes);
    append_digits(out, random.between(0, 99'999'999), 8);
  }

  std::string_view marital_status(Random& random, int age) const {
    std::size_t band = 0;
    while (band + 1 < std::size(marital_bands) && age >= marital_bands[band + 1].first_age) ++band;
    return marital_codes[marital_indexes_[band].pick(random)];
  }

  // -1 for no registered capital (a branch has none of its own).
  static std::int64_t registered_capital_cents(Random& random, EntityType type) {
    std::span<const Capital> table;
    switch (type) {
      case EntityType::branch:
        return -1;
      case EntityType::joint_stock_company:
      case EntityType::foreign_invested:
        table = large_capitals;
        break;
      case EntityType::sole_proprietorship:
      case EntityType::individual_business:
        table = small_capitals;
        break;
      case EntityType::partnership:
        table = partnership_capitals;
        break;
      case EntityType::farmers_cooperative:
        table = cooperative_capitals;
        break;
      case EntityType::limited_liability_company:
        // Some founders register an odd sum.
        if (random.percent(6)) return random.between(100, 300'000);
        table = company_capitals;
        break;
    }
    return pick_weighted(random, table).amount * 100;
  }

  static std::string_view tax_registration_status(Random& random, std::string_view status) {
    if (status == "active") return random.percent(94) ? "normal" : "abnormal";
    if (status == "revoked") return random.percent(70) ? "abnormal" : "deregistered";
    if (status == "moved_out") return random.percent(20) ? "normal" : "deregistered";
    return "deregistered";
  }

  static std::int64_t employee_count(Random& random, EntityType type, bool large) {
    std::span<const EmployeeBand> bands = small_employee_bands;
    if (type == EntityType::individual_business) {
      bands = individual_employee_bands;
    } else if (large) {
      bands = large_employee_bands;
    }
    const EmployeeBand& band = pick_weighted(random, bands);
    return random.between(band.first, band.last);
  }

  const Options& options_;
  Date yesterday_;
  Date adult_until_;  // born on or before this day: 18 or older yesterday
  std::vector<Place> places_;
  Region region_;
  WeightedIndex place_index_;
  WeightedIndex rural_place_index_;
  WeightedIndex surname_index_;
  WeightedIndex ethnicity_index_;
  WeightedIndex age_index_;
  WeightedIndex entity_type_index_;
  WeightedIndex status_index_;
  std::vector<WeightedIndex> marital_indexes_;
  std::vector<std::pair<std::int64_t, std::int64_t>> band_days_;
  std::int64_t day_span_ = 0;
  std::vector<std::uint16_t> sequence_counters_;
  std::size_t reservoir_capacity_ = 0;
  std::vector<Representative> representatives_;
};

const std::vector<std::string> police_header = {"id_number",         "name",       "sex",
                                                "birth_date",        "ethnicity",  "household_address",
                                                "household_division", "current_address", "phone"};
const std::vector<std::string> civil_header = {"id_number", "marital_status"};
const std::vector<std::string> market_header = {
    "uscc",    "name",     "entity_type",        "legal_representative", "legal_representative_id",
    "registered_capital", "business_scope", "address", "division", "establishment_date", "status"};
const std::vector<std::string> tax_header = {"uscc", "tax_registration_status", "taxpayer_type"};
const std::vector<std::string> hrss_header = {"uscc", "social_insurance_registration_date",
                                              "insured_employee_count"};

}  // namespace

Result<std::vector<GeneratedFile>> generate(const Options& options, const DivisionCodes& divisions,
                                            const std::filesystem::path& directory,
                                            const std::function<void(const Progress&)>& progress) {
  if (options.persons < 0 || options.persons > max_persons) {
    return Error::invalid("synthetic.bad_count", "persons",
                          "the number of persons must be between 0 and " + std::to_string(max_persons));
  }
  if (options.enterprises < 0 || options.enterprises > max_enterprises) {
    return Error::invalid("synthetic.bad_count", "enterprises",
                          "the number of enterprises must be between 0 and " + std::to_string(max_enterprises));
  }
  if (options.today <= earliest_establishment) {
    return Error::invalid("synthetic.bad_today", "today",
                          "today must be after " + earliest_establishment.to_string() +
                              ", the earliest establishment date generated");
  }

  const Division* city = divisions.find(qingdao_code);
  std::vector<Place> places;
  for (const Division* division : divisions.children(qingdao_code)) {
    if (division->level != DivisionLevel::county) continue;
    Place place{division, 0, {}, unknown_division_weight};
    for (const DivisionProfile& profile : division_profiles) {
      if (profile.code == division->code) {
        place = Place{division, profile.rural_percent, profile.towns, profile.weight};
      }
    }
    places.push_back(place);
  }
  if (city == nullptr || places.empty()) {
    return Error::invalid("synthetic.no_divisions", "divisions",
                          "the division table has no county-level division of Qingdao (" + std::string(qingdao_code) + ")");
  }
  Region region;
  if (const Division* province = divisions.parent(qingdao_code)) region.prefix = province->name;
  region.prefix += city->name;
  region.city_word = short_division_name(city->name);
  region.city_name = city->name;

  Generator generator(options, std::move(places), std::move(region));
  if (options.persons > generator.identifier_capacity()) {
    return Error::invalid("synthetic.bad_count", "persons",
                          "the divisions and birth dates available give at most " +
                              std::to_string(generator.identifier_capacity()) + " distinct ID numbers");
  }

  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) return write_failed(directory, error.message());

  CsvFile police("person", "police", directory / "person.police.csv", options.encoding);
  CsvFile civil("person", "civil", directory / "person.civil.csv", options.encoding);
  CsvFile market("legal_person", "market", directory / "legal_person.market.csv", options.encoding);
  CsvFile tax("legal_person", "tax", directory / "legal_person.tax.csv", options.encoding);
  CsvFile hrss("legal_person", "hrss", directory / "legal_person.hrss.csv", options.encoding);
  const std::array<std::pair<CsvFile*, const std::vector<std::string>*>, 5> files = {{
      {&police, &police_header},
      {&civil, &civil_header},
      {&market, &market_header},
      {&tax, &tax_header},
      {&hrss, &hrss_header},
  }};
  // On any failure the CsvFile destructors remove the temporary files.
  for (const auto& [file, header] : files) ONEWINDOW_TRY(file->open(*header));

  ProgressReporter reporter(progress, options.persons + options.enterprises);
  ONEWINDOW_TRY(generator.write_persons(police, civil, reporter));
  ONEWINDOW_TRY(generator.write_enterprises(market, tax, hrss, reporter));
  for (const auto& [file, header] : files) ONEWINDOW_TRY(file->close());
  std::vector<GeneratedFile> generated;
  for (const auto& [file, header] : files) {
    ONEWINDOW_TRY(file->commit());
    generated.push_back(file->summary());
  }
  reporter.finish();
  return generated;
}

}  // namespace onewindow::synthetic
