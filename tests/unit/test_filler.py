"""The template filler on layouts made here (no dataset): label synonyms, value beside or below
its label, value types, the head of a receipt, table rows, scene vocabulary."""

from __future__ import annotations

import pytest

from snapscribe.engines.filler import fill_template, fill_template_with_sources
from snapscribe.engines.filler.fields import field_kind
from snapscribe.engines.filler.values import coerce
from snapscribe.engines.layout import OcrLine


def page(*rows: list[tuple[str, float]] | str, height: float = 20) -> list[OcrLine]:
    """Rows top to bottom; a row is a string (one cell at x=10) or a list of (text, x) cells."""
    lines = []
    for index, row in enumerate(rows):
        cells = [(row, 10.0)] if isinstance(row, str) else row
        y = 10 + index * (height * 1.6)
        for text, x in cells:
            lines.append(OcrLine(text, x, y, x + 9 * len(text), y + height, 0.99))
    return lines


@pytest.mark.parametrize(
    "label",
    ["Invoice No: 8841", "Inv No. 8841", "Invoice # 8841", "Bill No: 8841", "INVOICE NUMBER 8841", "Receipt No: 8841"],
)
def test_invoice_number_synonyms(label: str) -> None:
    lines = page("Northwind Traders Ltd", "Customer: Jo", label, "Total 10.00")
    assert fill_template({"invoice_no": "Invoice Number"}, lines) == {"invoice_no": "8841"}


def test_value_in_the_next_cell_or_below() -> None:
    lines = page([("Date", 10), ("12 March 2024", 300)], "Reference", "AB-77-19", "Amount due", "$ 1,250.00")
    filled = fill_template({"date": "Date", "reference": "Reference", "amount_due": "Amount due"}, lines)
    assert filled == {"date": "12 March 2024", "reference": "AB-77-19", "amount_due": "1,250.00"}


def test_head_of_a_receipt_company_and_address() -> None:
    lines = page(
        "0042",
        "Blue Harbour Cafe Sdn Bhd (123456-K)",
        "GST ID: 000123456789",
        "No. 7, Jalan Laut 3,",
        "10200 Georgetown, Penang",
        "Tel: 04-261 1234",
        "Date: 2024-02-29 13:05",
        [("Latte", 10), ("9.50", 400)],
        [("Sub Total", 10), ("9.50", 400)],
        [("Service Tax 6%", 10), ("0.57", 400)],
        [("Total (RM)", 10), ("10.07", 400)],
        [("Cash", 10), ("20.00", 400)],
        [("Change", 10), ("9.93", 400)],
    )
    filled = fill_template(
        {"company": "Shop name", "address": "Shop address", "date": "Date", "total": "Total", "phone": "Phone"}, lines
    )
    assert filled == {
        "company": "Blue Harbour Cafe Sdn Bhd",
        "address": "No. 7, Jalan Laut 3, 10200 Georgetown, Penang",
        "date": "2024-02-29",
        "total": "10.07",
        "phone": "04-261 1234",
    }


def test_items_as_table_rows() -> None:
    lines = page(
        "Stationery World Ltd",
        [("Item", 10), ("Qty", 250), ("Amount", 400)],
        [("A4 paper 80gsm", 10), ("2", 250), ("12.00", 400)],
        [("Blue pens x10", 10), ("1", 250), ("4.50", 400)],
        [("Total", 10), ("16.50", 400)],
    )
    filled = fill_template({"items": [{"name": "Item", "qty": "Quantity", "total": "Amount"}], "total": "Total"}, lines)
    assert filled == {
        "items": [
            {"name": "A4 paper 80gsm", "qty": "2", "total": "12.00"},
            {"name": "Blue pens x10", "qty": "1", "total": "4.50"},
        ],
        "total": "16.50",
    }


def test_absent_fields_are_null_and_nested_objects_keep_their_shape() -> None:
    lines = page("Invoice No: 1", "Total: 5.00")
    assert fill_template({"buyer": {"name": "Buyer name", "vat_id": "VAT ID"}, "due_date": "Due date"}, lines) == {
        "buyer": {"name": None, "vat_id": None},
        "due_date": None,
    }


def test_medical_scene_vocabulary() -> None:
    lines = page(
        "City General Hospital",
        "Patient: Maria Lopez",
        "MRN: 0048213",
        "Visit date: 03/11/2025",
        "Diagnosis: Acute bronchitis",
        [("Total charges", 10), ("185.40", 400)],
    )
    filled = fill_template(
        {"name": "Patient name", "id": "Patient ID", "date": "Date", "diagnosis": "Diagnosis", "total": "Total"},
        lines,
        scene="medical",
    )
    assert filled == {
        "name": "Maria Lopez",
        "id": "0048213",
        "date": "03/11/2025",
        "diagnosis": "Acute bronchitis",
        "total": "185.40",
    }


def test_a_free_text_label_is_not_the_first_word_of_a_sentence() -> None:
    lines = page("To: Sam Zolot", "to be delivered before Friday", "From: Ana")
    assert fill_template({"To": "TO:", "From": "FROM:"}, lines) == {"To": "Sam Zolot", "From": "Ana"}


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("invoice_date", "date"),
        ("total_amount", "amount"),
        ("shop_name", "company"),
        ("store_address", "address"),
        ("phone_number", "phone"),
        ("invoice_no", "identifier"),
        ("remarks", "text"),
        ("vendorEmail", "email"),
    ],
)
def test_field_kinds(key: str, kind: str) -> None:
    assert field_kind(key, None) == kind


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("date", "Date:30-06-201822:16:06", "30-06-2018"),
        ("date", "on 5 Jan 2024", "5 Jan 2024"),
        ("amount", "TOTAL RM5:00", "RM5:00"),
        ("amount", "Total: 1,234.50", "1,234.50"),
        ("amount", "Time 12:30", None),
        ("phone", "Tel: +603-6093 9078", "+603-6093 9078"),
        ("phone", "2026-11-21", None),
        ("email", "mail: billing@example.com", "billing@example.com"),
    ],
)
def test_value_types(kind: str, text: str, value: str | None) -> None:
    assert coerce(kind, text) == value


# --- receipts in other scripts: their labels, their digits and separators ---------------------------------
WORLD_TEMPLATE = {"invoice_no": "Invoice number", "date": "Date", "tax": "Tax", "total": "Total amount"}


def _receipt(texts: list[str], right_to_left: bool = False) -> list[OcrLine]:
    return [
        OcrLine(text, 10, 40 * row, 400, 40 * row + 30, 0.95, right_to_left=right_to_left)
        for row, text in enumerate(texts)
    ]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            _receipt(
                ["سوبر ماركت النور", "رقم الفاتورة: ١٠٢٤", "التاريخ: ٢٠٢٦/١١/٢١", "خبز ٢٫٥٠",
                 "ضريبة القيمة المضافة: ١٫٤٣", "الإجمالي: ١٠٫٩٣"],
                right_to_left=True,
            ),
            {"invoice_no": "١٠٢٤", "date": "٢٠٢٦/١١/٢١", "tax": "١٫٤٣", "total": "١٠٫٩٣"},
        ),
        (
            _receipt(
                ["فروشگاه رز", "شماره فاکتور: ۴۵۶", "تاریخ: ۱۴۰۲/۰۵/۱۲", "مالیات: ۹٬۰۰۰٫۰۰", "جمع کل: ۱۰۹٬۰۰۰٫۰۰"],
                right_to_left=True,
            ),
            {"invoice_no": "۴۵۶", "date": "۱۴۰۲/۰۵/۱۲", "tax": "۹٬۰۰۰٫۰۰", "total": "۱۰۹٬۰۰۰٫۰۰"},
        ),
        (
            _receipt(["ООО Ромашка", "Чек № 7781", "Дата: 21.11.2026", "НДС: 3.33", "Итого: 19.99"]),
            {"invoice_no": "7781", "date": "21.11.2026", "tax": "3.33", "total": "19.99"},
        ),
        (
            _receipt(["행복마트", "영수증 번호: 2231", "날짜: 2026-11-21", "부가세: 1,000.00", "합계: 11,000.00"]),
            {"invoice_no": "2231", "date": "2026-11-21", "tax": "1,000.00", "total": "11,000.00"},
        ),
        (
            _receipt(["शर्मा स्टोर", "बिल संख्या: 55", "दिनांक: 21/11/2026", "जीएसटी: 18.00", "कुल: 118.00"]),
            {"invoice_no": "55", "date": "21/11/2026", "tax": "18.00", "total": "118.00"},
        ),
    ],
    ids=["arabic", "persian", "russian", "korean", "hindi"],
)  # fmt: skip
def test_labels_digits_and_separators_of_other_scripts(lines: list[OcrLine], expected: dict[str, str]) -> None:
    assert fill_template(WORLD_TEMPLATE, lines, "general") == expected


def test_amounts_in_any_scripts_digits_compare_by_value() -> None:
    from snapscribe.engines.filler.values import amount_value

    assert amount_value("١٬٢٥٠٫٥٠") == amount_value("1,250.50") == 1250.5
    assert amount_value("۱۲٫۵۰") == 12.5


def test_a_label_that_begins_a_longer_label_names_nothing() -> None:
    """ "Company No: 123456-X" is a registration number: the company is the name at the head."""
    lines = page("KEDAI MAJU ENTERPRISE", "Company No: SA0127959-D", "LOT 4, JALAN ULU KELANG", "Total 5.00")
    assert fill_template({"company": "Company name"}, lines) == {"company": "KEDAI MAJU ENTERPRISE"}


TOTALS = [
    # A total printed with no label at all: what was tendered less the change.
    (["Total Excl. GST 28.11", "Add: GST 6% 1.69", [("29.80", 400)], "Cash 50.00", "Change 20.20"], "29.80"),
    # The total before and after its rounding: the rounded one, whichever way the adjustment's sign was read.
    (["Total (Inclusive of GST): 31.02", "Rounding Adj: -0.02", "TOTAL: 31.00", "Cash 31.00"], "31.00"),
    (["Total Incl. GST 7.16", "Rounding Adjustment 0.01", "Total Rounded 7.15"], "7.15"),
    # Rounding named alone: the adjustment is no total, the rounded amount is.
    (["Total Sales (Inclusive GST) 45.34", "Rounding Adjustment .01", "Rounding 45.35"], "45.35"),
    (["Total 16.31", "Rounding Adj: -0.01", "Payment (Cash): 17.00", "Change (Cash): 0.70"], "16.30"),
    # "Net Amt" is a total's label; a gross amount is not.
    (["Gross Amt 47.80", "Svr Tax 2.87", "GST (6%) 2.86", "Net Amt: 53.55"], "53.55"),
]


@pytest.mark.parametrize(("rows", "expected"), TOTALS)
def test_the_total_is_the_amount_paid(rows: list[str | list[tuple[str, float]]], expected: str) -> None:
    lines = page("SHOP", *rows)
    assert fill_template({"total": "Total amount"}, lines) == {"total": expected}


HEADS = [
    # The name right above its registration number, though a line above it is in capitals too; greetings that
    # head a torn receipt are never the name.
    (
        ["..THANK YOU AND DO VISIT US AGAIN.....", "FIVE STAR CASH & CARRY", "(1365663-P)", "G.23, Plaza Seri Setia,"],
        "FIVE STAR CASH & CARRY",
    ),
    # A name over two lines: the second ends in the legal form, or sits right above the registration number.
    (["POPULAR BOOK", "CO. (M) SDN BHD", "(Co. No. 113825-W)", "No 8, Jalan 7/118B"], "POPULAR BOOK CO. (M) SDN BHD"),
    (["RESTAURANT JIAWEI", "JIAWEI HOUSE", "002693074-K", "13, JLN TASIK UTAMA 8"], "RESTAURANT JIAWEI JIAWEI HOUSE"),
    # OCR's confusions in a name: 5/B for S/B, a digit between letters, a capital I inside a lower-case word.
    (["(P) POSI", "99 SPEED MART 5/B (519537-X)", "LOT P.T. 2811, JALAN ANGSA,"], "99 SPEED MART S/B"),
    (["MR. D.1.Y. (M) SDN BHD", "(860671-D)", "LOT 1851-A, JALAN KPB 6"], "MR. D.I.Y. (M) SDN BHD"),
    (["Taste Of The WorId Sdn Bhd", "No. 3, Jalan 1"], "Taste Of The World Sdn Bhd"),
    # A registration cut off after the name; a branch in brackets under it.
    (["Dion Realties Sdn Bhd (Co, No", "Menara Dion #02-03, Level 2,"], "Dion Realties Sdn Bhd"),
    (
        ["CHECKERS HYPERMARKET SDN BHD", "(JALAN KLANG LAMA)", "LOT 2942, JLN SERI SENTOSA 8,"],
        "CHECKERS HYPERMARKET SDN BHD (JALAN KLANG LAMA)",
    ),
]


@pytest.mark.parametrize(("rows", "expected"), HEADS)
def test_the_business_at_the_head_of_a_receipt(rows: list[str], expected: str) -> None:
    assert fill_template({"company": "Company name"}, page(*rows, "Total 5.00")) == {"company": expected}


def test_an_address_ends_before_contact_lines_and_skips_the_branch() -> None:
    rows = [
        "CHECKERS HYPERMARKET SDN BHD",
        "(JALAN KLANG LAMA)",
        "LOT 2942 & 2945, JLN SERI SENTOSA 8,",
        "58000 KUALA LUMPUR. Te1: 03-62612536",
        "Total 5.00",
    ]
    assert fill_template({"address": "Address"}, page(*rows)) == {
        "address": "LOT 2942 & 2945, JLN SERI SENTOSA 8, 58000 KUALA LUMPUR."
    }
    rows = [
        "MYNEWS RETAIL SB",
        "UNIT 105, BLOCK A, NO.9, JALAN 16/11,",
        "46350,PETALING JAYA",
        "myNEWScareline : 1800 88",
    ]
    assert (
        fill_template({"address": "Address"}, page(*rows))["address"]
        == "UNIT 105, BLOCK A, NO.9, JALAN 16/11, 46350,PETALING JAYA"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Date 25/FEB/2017 10:12", "25/FEB/2017"),
        ("Code 21-41-71 Date 08-03-17", "08-03-17"),  # no month 41: a code
        ("19-18/03 21/05/2018", "21/05/2018"),  # one separator throughout
        ("2018.04.28", "2018.04.28"),
    ],
)
def test_dates_are_possible_dates(text: str, expected: str) -> None:
    assert coerce("date", text) == expected


def test_a_form_in_columns_each_label_takes_its_own_cells() -> None:
    """Two label-value columns on one row, a header row over its values, a long label with its value in the
    same cell, a label whose cell is only a dot: each field its own value, no more."""
    lines = page(
        "Type of Cigarette 100 mm Filter",
        [("Labels", 68), ("White", 208), ("Tobacco Blend", 338), ("Lassiter/Douglas", 472)],
        [("Closures", 68), ("Blue", 208), ("Filter Production", 337), ("MFG.", 470)],
        [("BLEND", 47), ("CASING", 156), ("MENTHOL", 300)],
        [("Attached", 47), ("None", 152), ("None", 300)],
        [("Tip. Paper Por.", 69), ("430", 211), ("Plug Wrap Por.", 337), ("655", 471)],
        [("Plug Wrap", 69), ("84-52-28", 211)],
    )
    template = {
        "Type of Cigarette": "Type of Cigarette",
        "Labels": "Labels",
        "Tobacco Blend": "Tobacco Blend",
        "Closures": "Closures",
        "Filter Production": "Filter Production",
        "BLEND": "BLEND",
        "CASING": "CASING",
        "MENTHOL": "MENTHOL",
        "Tip. Paper Por.": "Tip. Paper Por.",
        "Plug Wrap Por.": "Plug Wrap Por.",
        "Plug Wrap": "Plug Wrap",
    }
    assert fill_template(template, lines) == {
        "Type of Cigarette": "100 mm Filter",
        "Labels": "White",
        "Tobacco Blend": "Lassiter/Douglas",
        "Closures": "Blue",
        "Filter Production": "MFG.",
        "BLEND": "Attached",
        "CASING": "None",
        "MENTHOL": "None",
        "Tip. Paper Por.": "430",
        "Plug Wrap Por.": "655",
        "Plug Wrap": "84-52-28",
    }


def test_a_field_named_for_a_date_and_a_time_holds_both() -> None:
    lines = page("ARRIVAL DATE AND TIME: 2/18/80 7:00 P.M.")
    assert fill_template({"ARRIVAL DATE AND TIME": "ARRIVAL DATE AND TIME:"}, lines) == {
        "ARRIVAL DATE AND TIME": "2/18/80 7:00 P.M."
    }


def test_an_address_read_through_ocr_confusions() -> None:
    """A Malay street word starts the address; a postcode glued to its town is no registration number; G5T is
    GST and ends it; J1n and BIk are Jln and Blk; 4115O is 41150; a careline with its number is no address."""
    rows = [
        "SUNFISH",
        "<484297-M>",
        "22 LRG PERUSAHAAN 4, BIk G, J1n PJU",
        "No1, Lebuh Bandar Utama, 4115O P.Jaya",
        "myNEWScarellne : 1800 88 1231",
        "G5T ID. NO: 000181747712",
    ]
    assert fill_template({"address": "Address"}, page(*rows)) == {
        "address": "22 LRG PERUSAHAAN 4, Blk G, Jln PJU No1, Lebuh Bandar Utama, 41150 P.Jaya"
    }


def test_a_misread_time_is_no_name_and_stray_accents_are_noise_only_where_the_language_has_none() -> None:
    english = page("2-UU U:UU", "GERBANG ALAF RESTÄURANTS SDN BHD", "(139386-X)", *(["SOME ITEMS WERE SOLD HERE"] * 8))
    assert fill_template({"company": "Company"}, english) == {"company": "GERBANG ALAF RESTAURANTS SDN BHD"}
    german = page("Bäckerei Müller GmbH", "Hauptstraße 5, 10115 Berlin", "Vielen Dank für Ihren Einkauf heute")
    assert fill_template({"company": "Company"}, german)["company"] == "Bäckerei Müller GmbH"


def test_a_cut_off_label_of_another_amount_is_still_not_the_total() -> None:
    lines = page("SHOP", "Total 6% supplies (Inc. GST): 15.52", "Total 0% supplic. 9.62", "Total Payat .e: 5.90")
    assert fill_template({"total": "Total"}, lines) == {"total": "5.90"}


def test_each_field_says_where_it_was_read_and_how_surely() -> None:
    lines = page(
        "Blue Harbour Cafe Sdn Bhd",
        "(123456-K)",
        "No. 7, Jalan Laut 3,",
        "10200 Georgetown, Penang",
        [("Invoice No:", 10), ("8841", 300)],
        [("Latte", 10), ("9.50", 400)],
        [("Total", 10), ("9.50", 400)],
        [("Cash", 10), ("10.00", 400)],
        [("Change", 10), ("0.50", 400)],
    )
    template = {
        "company": "Shop",
        "address": "Address",
        "invoice_no": "Invoice No",
        "total": "Total",
        "tip": "Tip",
        "items": [{"name": "Item", "price": "Price"}],
    }
    filled = fill_template_with_sources(template, lines)
    assert filled.document == fill_template(template, lines)
    fields = filled.fields_json()
    assert fields["/invoice_no"] == {"value": "8841", "confidence": 0.941, "page": 0, "box": [300, 138, 336, 158]}
    # The address spans its two rows; the total agrees with the payment; a field not on the page has no source.
    assert fields["/address"]["box"] == [10, 74, 226, 126]
    assert fields["/total"]["confidence"] > fields["/address"]["confidence"]
    assert fields["/tip"] == {"value": None, "confidence": None, "page": None, "box": None}
    assert fields["/items/0/name"]["value"] == "Latte"
    assert fields["/items/0/price"]["box"] == [400, 170, 436, 190]
    assert all(0 < source["confidence"] <= 1 for source in fields.values() if source["value"] is not None)
