// The printable license: one A4 page (more when the data items are long) drawn with Cairo's PDF
// surface and Pango, with the QR code of the verify URL drawn as rectangles; see license.h.
// libharu is not used: it drops Chinese glyphs and cannot load Noto Sans CJK (STACK-NOTES.md).
// Fonts: fonts-noto-cjk and fonts-dejavu-core (scripts/setup).
#include "license/license.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <pango/pangocairo.h>
#include <qrencode.h>

#include <algorithm>
#include <memory>

namespace onewindow::license {

namespace {

constexpr double page_width = 595.28;  // A4 in points
constexpr double page_height = 841.89;
constexpr double margin = 56;
constexpr double label_width = 130;
constexpr double qr_size = 104;
constexpr double footer_height = 92;
// Chinese in Noto Sans CJK SC; Latin letters and digits in DejaVu Sans, because Cairo 1.16's
// subsetting of Noto's CFF outlines embeds most of the font (about 900 KB) once certain Latin
// glyphs are among those used, where Chinese glyphs alone subset to some 60 KB.
constexpr const char* family = "DejaVu Sans, Noto Sans CJK SC";

Error pdf_error(const std::string& message) { return Error(ErrorKind::internal, "license.pdf", message); }

cairo_status_t append(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

// "2026-11-23" as 2026年11月23日.
std::string chinese_date(const std::string& date) {
  auto parsed = Date::parse(date);
  if (!parsed.ok()) return date;
  return std::to_string(parsed->year()) + "年" + std::to_string(parsed->month()) + "月" + std::to_string(parsed->day()) +
         "日";
}

struct LayoutDeleter {
  void operator()(PangoLayout* layout) const { g_object_unref(layout); }
};
using Layout = std::unique_ptr<PangoLayout, LayoutDeleter>;

class Page {
 public:
  explicit Page(cairo_t* cairo) : cairo_(cairo) {}

  // A paragraph of `text` in `font` ("Bold 11"), wrapped to `width`; not drawn yet.
  Layout layout(std::string_view text, const std::string& font, double width,
                PangoAlignment alignment = PANGO_ALIGN_LEFT) const {
    Layout made(pango_cairo_create_layout(cairo_));
    std::string name = family;
    name.append(1, ' ').append(font);
    PangoFontDescription* description = pango_font_description_from_string(name.c_str());
    pango_layout_set_font_description(made.get(), description);
    pango_font_description_free(description);
    pango_layout_set_width(made.get(), static_cast<int>(width * PANGO_SCALE));
    pango_layout_set_wrap(made.get(), PANGO_WRAP_WORD_CHAR);
    pango_layout_set_alignment(made.get(), alignment);
    pango_layout_set_text(made.get(), text.data(), static_cast<int>(text.size()));
    return made;
  }

  static double height(const Layout& layout) {
    int width = 0, height = 0;
    pango_layout_get_size(layout.get(), &width, &height);
    return static_cast<double>(height) / PANGO_SCALE;
  }

  // Draws the paragraph with its top left at (x, y); returns its height.
  double draw(const Layout& layout, double x, double y) const {
    cairo_move_to(cairo_, x, y);
    pango_cairo_show_layout(cairo_, layout.get());
    return height(layout);
  }

  double text(std::string_view text, const std::string& font, double x, double y, double width,
              PangoAlignment alignment = PANGO_ALIGN_LEFT) const {
    return draw(layout(text, font, width, alignment), x, y);
  }

  void colour(double red, double green, double blue) const { cairo_set_source_rgb(cairo_, red, green, blue); }

  // The frame of a certificate: a heavy line and a thin one inside it.
  void frame() const {
    colour(0.62, 0.13, 0.11);
    cairo_set_line_width(cairo_, 2.4);
    cairo_rectangle(cairo_, 28, 28, page_width - 56, page_height - 56);
    cairo_stroke(cairo_);
    cairo_set_line_width(cairo_, 0.7);
    cairo_rectangle(cairo_, 34, 34, page_width - 68, page_height - 68);
    cairo_stroke(cairo_);
    colour(0, 0, 0);
  }

  // A QR code of `data` with its top left at (x, y), `size` points wide including the quiet zone
  // of four modules. Dark modules are filled rectangles, one per horizontal run.
  Status qr_code(const std::string& data, double x, double y, double size) const {
    QRcode* code = QRcode_encodeString(data.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (code == nullptr) return pdf_error("libqrencode could not encode the verify URL");
    const int width = code->width;
    const double module = size / (width + 8);
    colour(1, 1, 1);
    cairo_rectangle(cairo_, x, y, size, size);
    cairo_fill(cairo_);
    colour(0, 0, 0);
    for (int row = 0; row < width; ++row) {
      for (int column = 0; column < width;) {
        if ((code->data[row * width + column] & 1) == 0) {
          ++column;
          continue;
        }
        int end = column;
        while (end < width && (code->data[row * width + end] & 1) != 0) ++end;
        cairo_rectangle(cairo_, x + (column + 4) * module, y + (row + 4) * module, (end - column) * module, module);
        column = end;
      }
    }
    cairo_fill(cairo_);
    QRcode_free(code);
    return ok_status();
  }

  void next() const { cairo_show_page(cairo_); }

 private:
  cairo_t* cairo_;
};

struct Row {
  std::string label;
  std::string english_label;
  std::string value;
};

}  // namespace

Result<std::string> render_pdf(const License& license, const LicenseType& type, std::string_view url) {
  nlohmann::json document = license.fields();
  if (!document.is_object()) return pdf_error("the license document is not JSON");
  auto field = [&](const char* name) {
    auto found = document.find(name);
    return found != document.end() && found->is_string() ? found->get<std::string>() : std::string();
  };

  std::vector<Row> rows;
  bool citizen = license.holder_id_type == citizen_id_type;
  rows.push_back({citizen ? "姓名" : "名称", "Holder", field("holder_name")});
  rows.push_back({citizen ? "公民身份号码" : "统一社会信用代码", "Holder ID", field("holder_id")});
  const nlohmann::json data = document.value("data", nlohmann::json::object());
  for (const DataItem& item : type.items) {
    auto value = data.find(item.name);
    if (value != data.end() && value->is_string()) rows.push_back({item.label, item.english_label, value->get<std::string>()});
  }
  std::string valid_to = field("valid_to");
  rows.push_back({"有效期限", "Valid", chinese_date(field("valid_from")) + " 至 " +
                                            (valid_to.empty() ? std::string("长期") : chinese_date(valid_to))});

  std::string bytes;
  cairo_surface_t* surface = cairo_pdf_surface_create_for_stream(append, &bytes, page_width, page_height);
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, field("license_name").c_str());
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_SUBJECT, license.identifier.c_str());
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "onewindow");
  cairo_t* cairo = cairo_create(surface);
  Page page(cairo);
  Status drawn = [&]() -> Status {
    const double text_width = page_width - 2 * margin;
    auto footer = [&] {
      double y = page_height - margin - footer_height + 18;
      page.colour(0.3, 0.3, 0.3);
      y += page.text("证照标识 Identifier", "Bold 7.5", margin, y, text_width);
      y += page.text(license.identifier, "7.5", margin, y, text_width);
      y += page.text("核验 Verify: " + std::string(url), "7", margin, y, text_width);
      page.text("本证照由发证机关以 SM2 数字签名签发，扫码或以 openssl 离线核验。 Signed by the issuer with SM2; "
                "verify it by its QR code, or offline with openssl.",
                "6.5", margin, y + 2, text_width);
      page.colour(0, 0, 0);
    };
    // A revoked license says so across every page it prints on.
    auto stamp = [&] {
      if (!license.revoked) return;
      cairo_save(cairo);
      cairo_translate(cairo, page_width / 2, page_height / 2);
      cairo_rotate(cairo, -0.5);
      cairo_set_source_rgba(cairo, 0.8, 0.1, 0.1, 0.45);
      Layout text = page.layout("已注销 REVOKED", "Bold 44", 640, PANGO_ALIGN_CENTER);
      page.draw(text, -320, -Page::height(text) / 2);
      cairo_restore(cairo);
      page.colour(0, 0, 0);
    };
    const double bottom = page_height - margin - footer_height;
    auto new_page = [&] {
      stamp();
      page.next();
      page.frame();
      footer();
      return margin + 10;
    };
    page.frame();
    ONEWINDOW_TRY(page.qr_code(std::string(url), page_width - margin - qr_size + 8, 44, qr_size));
    page.text("扫码核验\nScan to verify", "7", page_width - margin - qr_size + 8, 44 + qr_size, qr_size, PANGO_ALIGN_CENTER);
    double title_width = page_width - 2 * (margin + qr_size);
    double y = 64;
    page.colour(0.62, 0.13, 0.11);
    y += page.text(field("license_name"), "Bold 30", margin + qr_size, y, title_width, PANGO_ALIGN_CENTER);
    page.colour(0, 0, 0);
    y += page.text(type.english_name, "11", margin + qr_size, y, title_width, PANGO_ALIGN_CENTER);
    y = std::max(y, 44 + qr_size + 20) + 14;
    y += page.text("证照编号 License No.  " + field("license_number"), "Bold 11", margin, y, text_width) + 18;
    footer();
    const double value_x = margin + label_width + 10;
    const double value_width = page_width - margin - value_x;
    for (const Row& row : rows) {
      Layout label = page.layout(row.label, "Bold 11", label_width);
      Layout english = page.layout(row.english_label, "7", label_width);
      Layout value = page.layout(row.value, "11", value_width);
      double height = std::max(Page::height(label) + Page::height(english), Page::height(value));
      if (y + height > bottom) y = new_page();
      double label_height = page.draw(label, margin, y);
      page.colour(0.35, 0.35, 0.35);
      page.draw(english, margin, y + label_height);
      page.colour(0, 0, 0);
      page.draw(value, value_x, y);
      y += height + 10;
    }
    // The issuer and the date, at the right as on a paper license.
    const double block_width = 300;
    Layout issuer = page.layout("发证机关 Issuer：" + field("issuer_name"), "Bold 12", block_width, PANGO_ALIGN_RIGHT);
    Layout issued = page.layout("发证日期 Issued on：" + chinese_date(field("issue_date")), "11", block_width, PANGO_ALIGN_RIGHT);
    if (y + 16 + Page::height(issuer) + Page::height(issued) > bottom) y = new_page();
    y += 16;
    y += page.draw(issuer, page_width - margin - block_width, y) + 4;
    page.draw(issued, page_width - margin - block_width, y);
    stamp();
    return ok_status();
  }();
  cairo_destroy(cairo);
  cairo_surface_finish(surface);
  cairo_status_t status = cairo_surface_status(surface);
  cairo_surface_destroy(surface);
  if (!drawn.ok()) return drawn.take_error();
  if (status != CAIRO_STATUS_SUCCESS) return pdf_error(std::string("cairo: ") + cairo_status_to_string(status));
  return bytes;
}

}  // namespace onewindow::license
