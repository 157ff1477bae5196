#include "report_doc.h"

#include <sstream>

#include "scenelab/eval/report.h"

namespace scenelab::eval::report {

namespace {
// A table cell or a line of Markdown: pipes and newlines would break the row.
std::string MdCell(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '|')
      o += "\\|";
    else if (c == '\n')
      o += ' ';
    else
      o += c;
  }
  return o;
}

std::string HtmlOf(const Text& t) {
  std::string o;
  for (const auto& s : t) {
    std::string x = HtmlEscape(s.text);
    if (s.code) x = "<code>" + x + "</code>";
    if (s.bold) x = "<b>" + x + "</b>";
    if (!s.cls.empty() || !s.value.empty()) {
      x = "<span" + (s.cls.empty() ? "" : " class=\"" + HtmlEscape(s.cls) + "\"") +
          (s.value.empty() ? "" : " data-value=\"" + HtmlEscape(s.value) + "\"") + ">" + x + "</span>";
    }
    o += x;
  }
  return o;
}

std::string MarkdownOf(const Text& t, bool in_table) {
  std::string o;
  for (const auto& s : t) {
    std::string x = in_table ? MdCell(s.text) : s.text;
    if (s.code) x = "`" + x + "`";
    if (s.bold) x = "**" + x + "**";
    o += x;
  }
  return o;
}

std::string HtmlAttributes(const Attributes& attrs) {
  std::string o;
  for (const auto& [k, v] : attrs) o += " " + k + "=\"" + HtmlEscape(v) + "\"";
  return o;
}
}  // namespace

void Document::Heading(int level, const std::string& text) {
  Block b;
  b.kind = Kind::kHeading;
  b.level = level;
  b.text = Plain(text);
  blocks_.push_back(std::move(b));
}

void Document::Paragraph(Text text, const std::string& cls) {
  Block b;
  b.kind = Kind::kParagraph;
  b.text = std::move(text);
  b.cls = cls;
  blocks_.push_back(std::move(b));
}

void Document::List(std::vector<Text> items) {
  if (items.empty()) return;
  Block b;
  b.kind = Kind::kList;
  b.items = std::move(items);
  blocks_.push_back(std::move(b));
}

void Document::Add(Table t) {
  Block b;
  b.kind = Kind::kTable;
  b.table = std::move(t);
  blocks_.push_back(std::move(b));
}

void Document::Add(Figure f) {
  Block b;
  b.kind = Kind::kFigure;
  b.figure = std::move(f);
  blocks_.push_back(std::move(b));
}

void Document::Mark(Kind kind, const std::string& summary) {
  Block b;
  b.kind = kind;
  if (!summary.empty()) b.text = Plain(summary);
  blocks_.push_back(std::move(b));
}

void Document::BeginRow() { Mark(Kind::kRowBegin); }
void Document::EndRow() { Mark(Kind::kRowEnd); }
void Document::BeginDetails(const std::string& summary) { Mark(Kind::kDetailsBegin, summary); }
void Document::EndDetails() { Mark(Kind::kDetailsEnd); }

void Document::Code(const std::string& text, const std::string& language) {
  Block b;
  b.kind = Kind::kCode;
  b.code = text;
  b.language = language;
  blocks_.push_back(std::move(b));
}

std::string Document::Html(const std::string& title) const {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" << HtmlEscape(title)
    << "</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse}"
       "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#eef}td.name{text-align:left}"
       "figure{display:inline-block;margin:6px;vertical-align:top}figure img{max-width:640px}"
       ".row{display:flex;flex-wrap:wrap}pre{background:#f6f6f6;padding:8px;overflow:auto}</style></head><body>\n"
    << "<h1>" << HtmlEscape(title) << "</h1>\n";
  for (const auto& b : blocks_) {
    switch (b.kind) {
      case Kind::kHeading:
        h << "<h" << b.level << ">" << HtmlOf(b.text) << "</h" << b.level << ">\n";
        break;
      case Kind::kParagraph:
        h << "<p" << (b.cls.empty() ? "" : " class=\"" + HtmlEscape(b.cls) + "\"") << ">" << HtmlOf(b.text) << "</p>\n";
        break;
      case Kind::kList:
        h << "<ul>\n";
        for (const auto& item : b.items) h << "<li>" << HtmlOf(item) << "</li>\n";
        h << "</ul>\n";
        break;
      case Kind::kTable:
        h << "<table" << HtmlAttributes(b.table.attrs) << "><tr>";
        for (const auto& c : b.table.header) h << "<th>" << HtmlOf(c) << "</th>";
        h << "</tr>\n";
        for (const auto& row : b.table.rows) {
          h << "<tr>";
          for (const auto& c : row) {
            h << "<td" << (c.name ? " class=\"name\"" : "") << HtmlAttributes(c.attrs) << ">" << HtmlOf(c.text)
              << "</td>";
          }
          h << "</tr>\n";
        }
        h << "</table>\n";
        break;
      case Kind::kFigure:
        h << "<figure><img alt=\"" << HtmlEscape(b.figure.caption) << "\" src=\"data:image/png;base64,"
          << Base64(b.figure.png) << "\"><figcaption>" << HtmlEscape(b.figure.caption);
        if (!b.figure.pdf.empty()) h << " (also <code>" << HtmlEscape(b.figure.pdf) << "</code>)";
        h << "</figcaption></figure>\n";
        break;
      case Kind::kRowBegin:
        h << "<div class=\"row\">\n";
        break;
      case Kind::kRowEnd:
        h << "</div>\n";
        break;
      case Kind::kDetailsBegin:
        h << "<details><summary>" << HtmlOf(b.text) << "</summary>\n";
        break;
      case Kind::kDetailsEnd:
        h << "</details>\n";
        break;
      case Kind::kCode:
        h << "<pre>" << HtmlEscape(b.code) << "</pre>\n";
        break;
    }
  }
  // Marks how many figures decoded, for readers and for the browser test.
  h << "<script>window.addEventListener('load',function(){var m=document.images,ok=0;"
       "for(var i=0;i<m.length;++i)if(m[i].complete&&m[i].naturalWidth>0)++ok;"
       "document.body.setAttribute('data-images',ok+'/'+m.length);});</script>\n"
       "</body></html>\n";
  return h.str();
}

std::string Document::Markdown(const std::string& title) const {
  std::ostringstream m;
  m << "# " << title << "\n\n";
  for (const auto& b : blocks_) {
    switch (b.kind) {
      case Kind::kHeading:
        m << std::string(static_cast<std::size_t>(b.level), '#') << " " << MarkdownOf(b.text, false) << "\n\n";
        break;
      case Kind::kParagraph:
        m << MarkdownOf(b.text, false) << "\n\n";
        break;
      case Kind::kList:
        for (const auto& item : b.items) m << "- " << MarkdownOf(item, false) << "\n";
        m << "\n";
        break;
      case Kind::kTable: {
        // GitHub-flavoured Markdown needs exactly one "---|" per column.
        m << "|";
        for (const auto& c : b.table.header) m << " " << MarkdownOf(c, true) << " |";
        m << "\n|";
        for (std::size_t i = 0; i < b.table.header.size(); ++i) m << "---|";
        m << "\n";
        for (const auto& row : b.table.rows) {
          m << "|";
          for (const auto& c : row) m << " " << MarkdownOf(c.text, true) << " |";
          m << "\n";
        }
        m << "\n";
        break;
      }
      case Kind::kFigure:
        m << "![" << b.figure.caption << "](" << b.figure.link << ")";
        if (!b.figure.pdf.empty()) m << " ([PDF](" << b.figure.pdf << "))";
        m << "\n\n";
        break;
      case Kind::kRowBegin:
      case Kind::kRowEnd:
      case Kind::kDetailsEnd:
        break;
      case Kind::kDetailsBegin:
        m << "**" << MarkdownOf(b.text, false) << "**\n\n";
        break;
      case Kind::kCode:
        m << "```" << b.language << "\n" << b.code << "\n```\n\n";
        break;
    }
  }
  return m.str();
}

}  // namespace scenelab::eval::report
