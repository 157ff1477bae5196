#pragma once
// One model of the report, rendered twice: as a self-contained HTML page and
// as GitHub-flavoured Markdown. The sections build the model once, so the two
// renderings cannot say different things.
#include <string>
#include <utility>
#include <vector>

namespace scenelab::eval::report {

// A run of text. `cls` and `value` are HTML's (a <span class data-value>,
// read by tools and the browser test); Markdown shows the text only.
struct Span {
  std::string text;
  bool code = false;
  bool bold = false;
  std::string cls;
  std::string value;
};
using Text = std::vector<Span>;
inline Span Words(std::string s) {
  Span x;
  x.text = std::move(s);
  return x;
}
inline Span CodeWords(std::string s) {
  Span x = Words(std::move(s));
  x.code = true;
  return x;
}
inline Span BoldWords(std::string s) {
  Span x = Words(std::move(s));
  x.bold = true;
  return x;
}
// A number that tools read from the HTML: <span class="cls" data-value="value">.
inline Span Marked(std::string s, std::string cls, std::string value) {
  Span x = Words(std::move(s));
  x.cls = std::move(cls);
  x.value = std::move(value);
  return x;
}
inline Text Plain(std::string s) { return {Words(std::move(s))}; }

using Attributes = std::vector<std::pair<std::string, std::string>>;  // HTML only

struct Cell {
  Text text;
  bool name = false;  // a name (left-aligned), not a number
  Attributes attrs;
};

struct Table {
  Attributes attrs;  // id, class, data-*
  std::vector<Text> header;
  std::vector<std::vector<Cell>> rows;
};

struct Figure {
  std::string caption;
  std::vector<unsigned char> png;  // embedded in the HTML
  std::string link;                // the PNG's path beside report.md
  std::string pdf;                 // a PDF beside it, when the report drew the figure
};

class Document {
 public:
  void Heading(int level, const std::string& text);
  void Paragraph(Text text, const std::string& cls = "");
  void List(std::vector<Text> items);
  void Add(Table t);
  void Add(Figure f);
  // Figures side by side in the HTML; nothing in Markdown.
  void BeginRow();
  void EndRow();
  // A collapsed part in the HTML; a bold line before its content in Markdown.
  void BeginDetails(const std::string& summary);
  void EndDetails();
  void Code(const std::string& text, const std::string& language);

  // The HTML page: `title`, the blocks, and a script that counts the
  // figures that decoded (body data-images="ok/all").
  std::string Html(const std::string& title) const;
  std::string Markdown(const std::string& title) const;

 private:
  enum class Kind {
    kHeading,
    kParagraph,
    kList,
    kTable,
    kFigure,
    kRowBegin,
    kRowEnd,
    kDetailsBegin,
    kDetailsEnd,
    kCode
  };
  struct Block {
    Kind kind = Kind::kParagraph;
    int level = 0;
    Text text;                // heading, paragraph, details summary
    std::string cls;          // paragraph class
    std::vector<Text> items;  // list
    Table table;
    Figure figure;
    std::string code, language;
  };
  void Mark(Kind kind, const std::string& summary = "");  // the blocks that only open or close
  std::vector<Block> blocks_;
};

}  // namespace scenelab::eval::report
