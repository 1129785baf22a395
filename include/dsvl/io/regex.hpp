#pragma once
// The regular expressions of tokenizer.json `Split` pre-tokenizers, matched as Hugging Face
// `tokenizers` matches them: with Oniguruma's Ruby syntax and leftmost-first (backtracking)
// semantics, over Unicode code points.
//
// Supported: literals and escapes (\t \n \r \f \v \a \e \xHH \x{H..} \uHHHH and escaped
// punctuation), `.`, classes `[...]` with ranges and negation, \s \S \d \D \w \W, \p{..} \P{..}
// \p{^..} for the general categories (L, Lu, ..., Cn) and White_Space, groups `(...)` and `(?:...)`,
// alternation, the quantifiers ? * + {n} {n,} {,m} {n,m} and their lazy forms, the look-aheads
// (?=...) (?!...), and the anchors ^ $ (line), \A \z \Z. Anything else (back-references,
// look-behind, case folding, possessive quantifiers, nested classes, ...) is refused with an error
// that names the pattern and the offset, rather than matched differently.
//
// Matching is a backtracking machine that remembers the (instruction, position) states it has
// executed, so that no state runs twice (the bit-state method of RE2, extended to look-aheads):
// the work is linear in the input times the program size, for nested repetitions such as `(a+)+$`
// as for `\s+$` on long runs of spaces. On short inputs the memo is turned on only once the steps
// outrun that bound.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dsvl/core/error.hpp"
#include "dsvl/io/unicode.hpp"
#include "dsvl/io/utf8.hpp"

namespace dsvl::io {

class Regex {
 public:
  struct Match {
    std::size_t begin, end;  // code-point positions in the searched text
  };

  explicit Regex(std::string_view pattern) : pattern_(pattern) {
    Parser p{*this};
    Node root = p.parse();
    if (root.nullable())
      fail(where(), "the pattern can match the empty string; tokenizer.json Split patterns cannot");
    first_ = root.first_set();
    compile_program(root);
    build_first_filter();
  }

  const std::string& pattern() const noexcept { return pattern_; }

  // The number of instructions of the compiled pattern.
  std::size_t program_size() const noexcept { return prog_.size(); }

  // The leftmost-first match in text[from, text.size()), if any. Anchors and look-aheads see
  // `text` as the whole subject.
  std::optional<Match> find(std::span<const char32_t> text, std::size_t from = 0) const {
    Memo memo(*this, text.size());
    if (text.size() >= kMemoMinLength) memo.turn_on(*this);
    return find(text, from, memo);
  }

  // Calls f(Match) for each successive match, each search starting where the last match ended
  // (what an iterator over matches does). Returns the number of steps the matcher took, which is
  // at most 4 x program_size() x (text.size() + 1).
  template <class F>
  std::size_t for_each_match(std::span<const char32_t> text, F&& f) const {
    Memo memo(*this, text.size());
    if (text.size() >= kMemoMinLength) memo.turn_on(*this);
    for (std::size_t from = 0; from < text.size();) {
      const auto m = find(text, from, memo);
      if (!m) break;
      f(*m);
      memo.forget(m->end, prog_.size());
      from = m->end;
    }
    return memo.steps;
  }

 private:
  // ---- character classes -------------------------------------------------------------------
  struct CharClass {
    std::uint64_t ascii[2] = {0, 0};
    std::vector<std::pair<char32_t, char32_t>> ranges;  // sorted, disjoint after finalize()
    unicode::CategoryMask categories = 0;
    bool white = false, not_white = false, word = false, not_word = false;
    bool negated = false;

    bool contains_slow(char32_t c) const {
      const auto it = std::upper_bound(ranges.begin(), ranges.end(), c,
                                       [](char32_t v, const auto& r) { return v < r.first; });
      bool in = it != ranges.begin() && c <= std::prev(it)->second;
      in = in || unicode::in(c, categories);
      if (white || not_white) in = in || (unicode::is_white_space(c) ? white : not_white);
      if (word || not_word) in = in || (unicode::is_word(c) ? word : not_word);
      return in != negated;
    }
    bool contains(char32_t c) const {
      return c < 128 ? (ascii[c >> 6] >> (c & 63)) & 1 : contains_slow(c);
    }
    void add(char32_t lo, char32_t hi) { ranges.emplace_back(lo, hi); }
    void finalize() {
      std::sort(ranges.begin(), ranges.end());
      std::vector<std::pair<char32_t, char32_t>> merged;
      for (const auto& r : ranges) {
        if (!merged.empty() && r.first <= merged.back().second + 1)
          merged.back().second = std::max(merged.back().second, r.second);
        else
          merged.push_back(r);
      }
      ranges = std::move(merged);
      ascii[0] = ascii[1] = 0;
      for (char32_t c = 0; c < 128; ++c)
        if (contains_slow(c)) ascii[c >> 6] |= std::uint64_t{1} << (c & 63);
    }
  };

  // ---- syntax tree -------------------------------------------------------------------------
  enum class Anchor : std::uint8_t { kLineBegin, kLineEnd, kTextBegin, kTextEnd, kTextEndOrNewline };

  struct Node {
    enum Kind : std::uint8_t { kClass, kConcat, kAlt, kRepeat, kLookahead, kAnchor } kind;
    explicit Node(Kind k = kConcat) : kind(k) {}
    int cls = -1;
    std::vector<Node> kids;
    int min = 1, max = 1;  // kRepeat; max < 0: unbounded
    bool greedy = true;
    bool negate = false;  // kLookahead
    Anchor anchor{};

    bool nullable() const {
      switch (kind) {
        case kClass: return false;
        case kConcat:
          return std::all_of(kids.begin(), kids.end(), [](const Node& n) { return n.nullable(); });
        case kAlt:
          return std::any_of(kids.begin(), kids.end(), [](const Node& n) { return n.nullable(); });
        case kRepeat: return min == 0 || kids[0].nullable();
        default: return true;  // zero-width
      }
    }
    // Classes one of which the first code point of a match must belong to; nullopt when unknown
    // (an assertion comes first).
    std::optional<std::vector<int>> first_set() const {
      switch (kind) {
        case kClass: return std::vector<int>{cls};
        case kConcat: {
          std::vector<int> out;
          for (const Node& k : kids) {
            if (k.kind == kAnchor || k.kind == kLookahead) return std::nullopt;
            auto f = k.first_set();
            if (!f) return std::nullopt;
            out.insert(out.end(), f->begin(), f->end());
            if (!k.nullable()) return out;
          }
          return out;
        }
        case kAlt: {
          std::vector<int> out;
          for (const Node& k : kids) {
            auto f = k.first_set();
            if (!f) return std::nullopt;
            out.insert(out.end(), f->begin(), f->end());
          }
          return out;
        }
        case kRepeat: return kids[0].first_set();
        default: return std::nullopt;
      }
    }
  };

  // ---- parser ------------------------------------------------------------------------------
  struct Parser {
    Regex& re;
    std::u32string p;
    std::size_t i = 0;
    int depth = 0;

    explicit Parser(Regex& r) : re(r) {
      std::string_view s = r.pattern_;
      for (std::size_t k = 0; k < s.size();) {
        const auto st = utf8::next(s.substr(k));
        if (st.kind != utf8::Step::kValid) r.fail_at(k, "the pattern is not valid UTF-8");
        p += st.code_point;
        k += static_cast<std::size_t>(st.length);
      }
    }

    [[noreturn]] void error(const std::string& what) const { re.fail_at(i, what); }
    bool at_end() const { return i >= p.size(); }
    char32_t peek(std::size_t ahead = 0) const { return i + ahead < p.size() ? p[i + ahead] : 0; }

    Node parse() {
      Node n = alternation();
      if (!at_end()) error(peek() == ')' ? "unmatched ')'" : "unexpected character");
      return n;
    }

    Node alternation() {
      Node first = concatenation();
      if (peek() != '|') return first;
      Node alt{Node::kAlt};
      alt.kids.push_back(std::move(first));
      while (peek() == '|') {
        ++i;
        alt.kids.push_back(concatenation());
      }
      return alt;
    }

    Node concatenation() {
      Node cat{Node::kConcat};
      while (!at_end() && peek() != '|' && peek() != ')') cat.kids.push_back(quantified());
      return cat;
    }

    std::optional<int> number() {
      std::size_t start = i;
      long v = 0;
      while (peek() >= '0' && peek() <= '9') {
        v = v * 10 + (peek() - '0');
        if (v > 100000) error("repetition count too large");
        ++i;
      }
      if (i == start) return std::nullopt;
      return static_cast<int>(v);
    }

    // {n} {n,} {,m} {n,m}; anything else after '{' is a literal '{' in Ruby syntax.
    bool interval(int& lo, int& hi) {
      const std::size_t save = i;
      ++i;
      const auto a = number();
      if (peek() == '}' && a) {
        ++i;
        lo = hi = *a;
        return true;
      }
      if (peek() == ',') {
        ++i;
        const auto b = number();
        if (peek() == '}' && (a || b)) {
          ++i;
          lo = a.value_or(0);
          hi = b ? *b : -1;
          if (hi >= 0 && hi < lo) error("repetition {n,m} with m < n");
          return true;
        }
      }
      i = save;
      return false;
    }

    Node quantified() {
      Node atom_node = atom();
      for (;;) {
        int lo, hi;
        const char32_t c = peek();
        if (c == '?') {
          lo = 0, hi = 1, ++i;
        } else if (c == '*') {
          lo = 0, hi = -1, ++i;
        } else if (c == '+') {
          lo = 1, hi = -1, ++i;
        } else if (c == '{' && interval(lo, hi)) {
        } else {
          return atom_node;
        }
        if (atom_node.kind == Node::kAnchor || atom_node.kind == Node::kLookahead)
          error("a quantifier after an assertion");
        bool greedy = true;
        if (peek() == '?') {
          greedy = false, ++i;
        } else if (peek() == '+' && c != '{') {
          error("possessive quantifiers are not supported");
        }
        if (hi < 0 && atom_node.nullable())
          error("an unbounded repetition of something that can match the empty string");
        Node rep{Node::kRepeat};
        rep.min = lo, rep.max = hi, rep.greedy = greedy;
        rep.kids.push_back(std::move(atom_node));
        atom_node = std::move(rep);
      }
    }

    Node class_node(CharClass cc) {
      cc.finalize();
      re.classes_.push_back(std::move(cc));
      Node n{Node::kClass};
      n.cls = static_cast<int>(re.classes_.size()) - 1;
      return n;
    }

    Node atom() {
      const char32_t c = peek();
      if (c == '(') return group();
      if (c == '[') return class_node(bracket());
      ++i;
      switch (c) {
        case '.': {
          CharClass cc;
          cc.negated = true;
          cc.add('\n', '\n');
          return class_node(std::move(cc));
        }
        case '^': return anchor(Anchor::kLineBegin);
        case '$': return anchor(Anchor::kLineEnd);
        case '\\': return escape_atom();
        case '*':
        case '+':
        case '?': --i, error("a quantifier with nothing to repeat");
        default: {
          CharClass cc;
          cc.add(c, c);
          return class_node(std::move(cc));
        }
      }
    }

    static Node anchor(Anchor a) {
      Node n{Node::kAnchor};
      n.anchor = a;
      return n;
    }

    Node group() {
      ++i;  // '('
      if (++depth > 200) error("groups nested too deeply");
      Node inner;
      if (peek() == '?') {
        const char32_t k = peek(1);
        if (k == ':') {
          i += 2;
          inner = alternation();
        } else if (k == '=' || k == '!') {
          i += 2;
          Node look{Node::kLookahead};
          look.negate = k == '!';
          look.kids.push_back(alternation());
          inner = std::move(look);
        } else {
          error("this group syntax is not supported (only (...), (?:...), (?=...), (?!...))");
        }
      } else {
        inner = alternation();
      }
      if (peek() != ')') error("missing ')'");
      ++i;
      --depth;
      return inner;
    }

    std::uint32_t hex_digits(std::size_t min_n, std::size_t max_n) {
      std::uint32_t v = 0;
      std::size_t n = 0;
      while (n < max_n) {
        const char32_t h = peek();
        int d;
        if (h >= '0' && h <= '9') d = static_cast<int>(h - '0');
        else if (h >= 'a' && h <= 'f') d = static_cast<int>(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F') d = static_cast<int>(h - 'A' + 10);
        else break;
        v = v * 16 + static_cast<std::uint32_t>(d);
        ++i, ++n;
      }
      if (n < min_n) error("bad hexadecimal escape");
      if (v > 0x10FFFF) error("code point out of range");
      return v;
    }

    // After '\\': a single code point, or the class escapes that add to `cc`. Returns the code
    // point, or nullopt when the escape was a class added to `cc`.
    std::optional<char32_t> escape_into(CharClass& cc) {
      if (at_end()) error("a pattern ending in '\\'");
      const char32_t e = p[i++];
      switch (e) {
        case 't': return U'\t';
        case 'n': return U'\n';
        case 'r': return U'\r';
        case 'f': return U'\f';
        case 'v': return U'\v';
        case 'a': return U'\a';
        case 'e': return U'\x1B';
        case 'x':
          if (peek() == '{') {
            ++i;
            const auto v = hex_digits(1, 8);
            if (peek() != '}') error("missing '}' in \\x{...}");
            ++i;
            return v;
          }
          return hex_digits(1, 2);
        case 'u': return hex_digits(4, 4);
        case 's': cc.white = true; return std::nullopt;
        case 'S': cc.not_white = true; return std::nullopt;
        case 'w': cc.word = true; return std::nullopt;
        case 'W': cc.not_word = true; return std::nullopt;
        case 'd': cc.categories |= unicode::mask(unicode::Nd); return std::nullopt;
        case 'D': cc.categories |= unicode::kAll & ~unicode::mask(unicode::Nd); return std::nullopt;
        case 'p':
        case 'P': property(cc, e == 'P'); return std::nullopt;
        default:
          if (e < 128 && ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))) {
            --i;
            error(std::string("unsupported escape '\\") + static_cast<char>(e) + "'");
          }
          return e;  // an escaped punctuation or non-ASCII character stands for itself
      }
    }

    void property(CharClass& cc, bool negated) {
      if (peek() != '{') error("expected '{' after \\p");
      ++i;
      if (peek() == '^') negated = !negated, ++i;
      std::string name;
      while (!at_end() && peek() != '}') {
        const char32_t c = p[i++];
        if (c == '_' || c == ' ' || c == '-') continue;
        if (c >= 128) error("unknown property");
        name += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      }
      if (at_end()) error("missing '}' after a property name");
      ++i;
      using namespace unicode;
      struct Named {
        const char* name;
        CategoryMask mask;
      };
      static constexpr Named kNames[] = {
          {"l", kLetter}, {"letter", kLetter}, {"lu", mask(Lu)}, {"ll", mask(Ll)}, {"lt", mask(Lt)},
          {"lm", mask(Lm)}, {"lo", mask(Lo)}, {"m", kMark}, {"mark", kMark}, {"mn", mask(Mn)},
          {"mc", mask(Mc)}, {"me", mask(Me)}, {"n", kNumber}, {"number", kNumber},
          {"nd", mask(Nd)}, {"nl", mask(Nl)}, {"no", mask(No)}, {"p", kPunctuation},
          {"punctuation", kPunctuation}, {"pc", mask(Pc)}, {"pd", mask(Pd)}, {"ps", mask(Ps)},
          {"pe", mask(Pe)}, {"pi", mask(Pi)}, {"pf", mask(Pf)}, {"po", mask(Po)}, {"s", kSymbol},
          {"symbol", kSymbol}, {"sm", mask(Sm)}, {"sc", mask(Sc)}, {"sk", mask(Sk)},
          {"so", mask(So)}, {"z", kSeparator}, {"separator", kSeparator}, {"zs", mask(Zs)},
          {"zl", mask(Zl)}, {"zp", mask(Zp)}, {"c", kOther}, {"other", kOther}, {"cc", mask(Cc)},
          {"cf", mask(Cf)}, {"cs", mask(Cs)}, {"co", mask(Co)}, {"cn", mask(Cn)},
          {"any", kAll}};
      if (name == "whitespace") {
        (negated ? cc.not_white : cc.white) = true;
        return;
      }
      for (const Named& n : kNames) {
        if (name == n.name) {
          cc.categories |= negated ? kAll & ~n.mask : n.mask;
          return;
        }
      }
      error("unknown property \\p{" + name + "}");
    }

    Node escape_atom() {
      const char32_t e = peek();
      if (e == 'A' || e == 'z' || e == 'Z') {
        ++i;
        return anchor(e == 'A' ? Anchor::kTextBegin : e == 'z' ? Anchor::kTextEnd
                                                                : Anchor::kTextEndOrNewline);
      }
      CharClass cc;
      if (const auto cp = escape_into(cc)) cc.add(*cp, *cp);
      return class_node(std::move(cc));
    }

    CharClass bracket() {
      ++i;  // '['
      CharClass cc;
      if (peek() == '^') cc.negated = true, ++i;
      bool first = true;
      for (;;) {
        if (at_end()) error("missing ']'");
        char32_t c = peek();
        if (c == ']' && !first) {
          ++i;
          return cc;
        }
        first = false;
        if (c == '[') error("nested character classes are not supported");
        if (c == '&' && peek(1) == '&') error("class intersection (&&) is not supported");
        ++i;
        std::optional<char32_t> lo = c;
        if (c == '\\') lo = escape_into(cc);
        if (!lo) continue;
        if (peek() == '-' && peek(1) != ']' && i + 1 < p.size()) {
          ++i;
          char32_t hi = peek();
          ++i;
          if (hi == '\\') {
            CharClass dummy;
            const auto h = escape_into(dummy);
            if (!h) error("a class escape cannot end a range");
            hi = *h;
          } else if (hi == '[') {
            error("nested character classes are not supported");
          }
          if (hi < *lo) error("a range out of order");
          cc.add(*lo, hi);
        } else {
          cc.add(*lo, *lo);
        }
      }
    }
  };

  // ---- program -----------------------------------------------------------------------------
  enum class Op : std::uint8_t { kClass, kStarClass, kSplit, kJump, kAnchor, kLookahead, kMatch };

  static constexpr std::size_t kMaxProgram = 1 << 16;

  struct Inst {
    Op op;
    bool flag = false;  // kStarClass: greedy; kLookahead: negated
    int a = 0, b = 0;   // class, targets, anchor or look-ahead start
  };

  int emit(Inst in) {
    if (prog_.size() >= kMaxProgram) fail(where(), "the pattern is too large (", kMaxProgram, " steps)");
    prog_.push_back(in);
    return static_cast<int>(prog_.size()) - 1;
  }

  void compile_program(const Node& root) {
    std::vector<std::pair<int, const Node*>> lookaheads;
    compile(root, lookaheads);
    emit({Op::kMatch});
    look_begin_ = static_cast<int>(prog_.size());
    // Look-ahead bodies follow the main program, each a sub-program ending in kMatch.
    for (std::size_t k = 0; k < lookaheads.size(); ++k) {
      const auto [at, body] = lookaheads[k];
      prog_[static_cast<std::size_t>(at)].a = static_cast<int>(prog_.size());
      compile(*body, lookaheads);
      emit({Op::kMatch});
    }
  }

  void compile(const Node& n, std::vector<std::pair<int, const Node*>>& lookaheads) {
    switch (n.kind) {
      case Node::kClass: emit({Op::kClass, false, n.cls}); break;
      case Node::kConcat:
        for (const Node& k : n.kids) compile(k, lookaheads);
        break;
      case Node::kAlt: {
        std::vector<int> jumps;
        for (std::size_t k = 0; k < n.kids.size(); ++k) {
          if (k + 1 < n.kids.size()) {
            const int split = emit({Op::kSplit});
            prog_[split].a = split + 1;
            compile(n.kids[k], lookaheads);
            jumps.push_back(emit({Op::kJump}));
            prog_[split].b = static_cast<int>(prog_.size());
          } else {
            compile(n.kids[k], lookaheads);
          }
        }
        for (int j : jumps) prog_[j].a = static_cast<int>(prog_.size());
        break;
      }
      case Node::kRepeat: {
        const Node& body = n.kids[0];
        for (int k = 0; k < n.min; ++k) compile(body, lookaheads);
        if (n.max < 0 && body.kind == Node::kClass) {
          emit({Op::kStarClass, n.greedy, body.cls});
        } else if (n.max < 0) {
          const int loop = emit({Op::kSplit});
          compile(body, lookaheads);
          emit({Op::kJump, false, loop});
          set_split(loop, loop + 1, static_cast<int>(prog_.size()), n.greedy);
        } else {
          std::vector<int> splits;
          for (int k = n.min; k < n.max; ++k) {
            splits.push_back(emit({Op::kSplit}));
            compile(body, lookaheads);
          }
          const int end = static_cast<int>(prog_.size());
          for (int s : splits) set_split(s, s + 1, end, n.greedy);
        }
        break;
      }
      case Node::kLookahead:
        lookaheads.emplace_back(emit({Op::kLookahead, n.negate}), &n.kids[0]);
        break;
      case Node::kAnchor: emit({Op::kAnchor, false, static_cast<int>(n.anchor)}); break;
    }
  }

  void set_split(int at, int take, int skip, bool greedy) {
    prog_[at].a = greedy ? take : skip;
    prog_[at].b = greedy ? skip : take;
  }

  // ---- matching ----------------------------------------------------------------------------
  // Inputs at least this long use the memo from the start; shorter ones turn it on when the
  // steps outrun their budget.
  static constexpr std::size_t kMemoMinLength = 256;
  // The memo costs one bit per (instruction, position) state, two for the instructions of
  // look-ahead bodies; a pattern and text that would need more are refused.
  static constexpr std::size_t kMaxMemoBytes = std::size_t{1} << 30;

  struct Frame {
    int pc;
    bool take_one;      // a lazy kStarClass at pc: consume one more code point, then go on
    std::size_t pos;
    std::size_t trail;  // the length of Memo::trail at this branch (look-ahead bodies)
  };

  struct Bits {
    std::vector<std::uint64_t> w;
    void reset(std::size_t n) { w.assign((n + 63) / 64, 0); }
    bool test(std::size_t k) const { return (w[k >> 6] >> (k & 63)) & 1; }
    void set(std::size_t k) { w[k >> 6] |= std::uint64_t{1} << (k & 63); }
    void clear(std::size_t k) { w[k >> 6] &= ~(std::uint64_t{1} << (k & 63)); }
  };

  // The states one search (or one for_each_match) has executed, once the memo is on. No
  // instruction repeats at a position without consuming (an unbounded repetition of something
  // that can match empty is refused), so a depth-first run has finished exploring a state before
  // it meets that state again: in the main program a state met twice is a known failure. A
  // look-ahead asks only whether its body matches, so for its states `reaches` also records the
  // ones known to match: those on the trail of the path that matched.
  struct Memo {
    std::size_t stride;
    std::size_t budget;  // steps allowed before the memo turns on
    std::size_t steps = 0;
    bool on = false, exhausted = false;
    Bits visited;
    Bits reaches;  // look-ahead body states, from look_begin_
    std::vector<Frame> stack;
    std::vector<std::size_t> trail;  // `reaches` indices of the current path in look-ahead bodies

    Memo(const Regex& re, std::size_t n) : stride(n + 1), budget(2 * re.prog_.size() * stride) {}
    void turn_on(const Regex& re) {
      const std::size_t prog = re.prog_.size(), look = prog - static_cast<std::size_t>(re.look_begin_);
      if (stride > kMaxMemoBytes * 8 / (prog + look))
        fail(re.where(), "matching ", stride - 1, " code points would need more than ", kMaxMemoBytes >> 20,
             " MiB of memo; the pattern is too large for a text this long");
      visited.reset(prog * stride);
      reaches.reset(look * stride);
      on = true;
      exhausted = false;
    }
    // States at positions before `pos` are never looked at again; those at `pos` may lie on the
    // path that matched up to it, so they are forgotten. All others are known failures.
    void forget(std::size_t pos, std::size_t prog) {
      if (on)
        for (std::size_t pc = 0; pc < prog; ++pc) visited.clear(pc * stride + pos);
    }
  };

  std::optional<Match> find(std::span<const char32_t> text, std::size_t from, Memo& memo) const {
    for (std::size_t start = from; start < text.size(); ++start) {
      if (!may_start(text[start])) continue;
      auto end = memo.on ? run<true, false>(0, start, text, memo) : run<false, false>(0, start, text, memo);
      if (memo.exhausted) {
        memo.turn_on(*this);
        end = run<true, false>(0, start, text, memo);
      }
      if (end) return Match{start, *end};
    }
    return std::nullopt;
  }

  bool anchor_holds(Anchor a, std::span<const char32_t> t, std::size_t pos) const {
    switch (a) {
      case Anchor::kLineBegin: return pos == 0 || t[pos - 1] == '\n';
      case Anchor::kLineEnd: return pos == t.size() || t[pos] == '\n';
      case Anchor::kTextBegin: return pos == 0;
      case Anchor::kTextEnd: return pos == t.size();
      case Anchor::kTextEndOrNewline:
        return pos == t.size() || (pos + 1 == t.size() && t[pos] == '\n');
    }
    return false;
  }

  // Runs the program from `pc0` anchored at `pos0`; the end of the first match in priority order.
  // `memo`: m.on; `look`: pc0 starts a look-ahead body. Backtracking frames go on the memo's
  // stack above what is there (a look-ahead runs on the same stack). Without the memo, a run that
  // outruns the budget stops with m.exhausted set.
  template <bool memo, bool look>
  std::optional<std::size_t> run(int pc0, std::size_t pos0, std::span<const char32_t> t, Memo& m) const {
    std::vector<Frame>& stack = m.stack;
    const std::size_t base = stack.size(), trail_base = m.trail.size();
    const std::size_t stride = m.stride, budget = m.budget;
    std::size_t steps = m.steps;
    stack.push_back({pc0, false, pos0, trail_base});
    while (stack.size() > base) {
      const Frame f = stack.back();
      stack.pop_back();
      int pc = f.pc;
      std::size_t pos = f.pos;
      if constexpr (memo && look) truncate(m.trail, f.trail);
      if (f.take_one) {
        if (pos == t.size() || !classes_[static_cast<std::size_t>(prog_[pc].a)].contains(t[pos]))
          continue;
        ++pos;
      }
      for (;;) {
        if constexpr (memo) {
          const std::size_t k = static_cast<std::size_t>(pc) * stride + pos;
          if constexpr (look) {
            const std::size_t r = static_cast<std::size_t>(pc - look_begin_) * stride + pos;
            if (m.reaches.test(r)) {
              look_matched(m, trail_base);
              truncate(stack, base);
              m.steps = steps;
              return pos;  // not this body's end, but a look-ahead asks only whether it matches
            }
            if (m.visited.test(k)) break;
            m.trail.push_back(r);
          } else if (m.visited.test(k)) {
            break;
          }
          m.visited.set(k);
        } else if (steps == budget) {
          m.exhausted = true;
          m.steps = steps;
          truncate(stack, base);
          return std::nullopt;
        }
        ++steps;
        const Inst& in = prog_[static_cast<std::size_t>(pc)];
        bool ok = true;
        switch (in.op) {
          case Op::kClass:
            ok = pos < t.size() && classes_[static_cast<std::size_t>(in.a)].contains(t[pos]);
            ++pos, ++pc;
            break;
          // One step of a class repeated without bound; the state stays at pc while it consumes,
          // so the memo sees every position of the run.
          case Op::kStarClass:
            if (!in.flag) {
              stack.push_back({pc, true, pos, m.trail.size()});
              ++pc;
            } else if (pos < t.size() && classes_[static_cast<std::size_t>(in.a)].contains(t[pos])) {
              stack.push_back({pc + 1, false, pos, m.trail.size()});
              ++pos;
            } else {
              ++pc;
            }
            break;
          case Op::kSplit:
            stack.push_back({in.b, false, pos, m.trail.size()});
            pc = in.a;
            break;
          case Op::kJump: pc = in.a; break;
          case Op::kAnchor:
            ok = anchor_holds(static_cast<Anchor>(in.a), t, pos);
            ++pc;
            break;
          case Op::kLookahead:
            m.steps = steps;
            ok = run<memo, true>(in.a, pos, t, m).has_value() != in.flag;
            steps = m.steps;
            if (!memo && m.exhausted) {
              truncate(stack, base);
              return std::nullopt;
            }
            ++pc;
            break;
          case Op::kMatch:
            if constexpr (memo && look) look_matched(m, trail_base);
            truncate(stack, base);
            m.steps = steps;
            return pos;
        }
        if (!ok) break;
      }
    }
    if constexpr (memo && look) truncate(m.trail, trail_base);
    m.steps = steps;
    return std::nullopt;
  }

  // Shrinks `v` to `n` elements (resize() would bring in its growing path).
  template <class T>
  static void truncate(std::vector<T>& v, std::size_t n) {
    v.erase(v.begin() + static_cast<std::ptrdiff_t>(n), v.end());
  }

  // A look-ahead body matched: every state on the trail of its path reaches the end.
  static void look_matched(Memo& m, std::size_t trail_base) {
    for (std::size_t i = trail_base; i < m.trail.size(); ++i) m.reaches.set(m.trail[i]);
    truncate(m.trail, trail_base);
  }

  void build_first_filter() {
    if (!first_) return;
    for (int c : *first_) {
      first_ascii_[0] |= classes_[static_cast<std::size_t>(c)].ascii[0];
      first_ascii_[1] |= classes_[static_cast<std::size_t>(c)].ascii[1];
    }
  }

  bool may_start(char32_t c) const {
    if (!first_) return true;
    if (c < 128) return (first_ascii_[c >> 6] >> (c & 63)) & 1;
    for (int k : *first_)
      if (classes_[static_cast<std::size_t>(k)].contains_slow(c)) return true;
    return false;
  }

  std::string where() const { return "regex /" + pattern_ + "/"; }
  [[noreturn]] void fail_at(std::size_t offset, const std::string& what) const {
    fail(where(), what, " (at code point ", offset, ")");
  }

  std::string pattern_;
  std::vector<CharClass> classes_;
  std::vector<Inst> prog_;
  int look_begin_ = 0;  // the first instruction of the look-ahead bodies
  std::optional<std::vector<int>> first_;
  std::uint64_t first_ascii_[2] = {0, 0};
};

}  // namespace dsvl::io
