"""sheets_schema.json encodes the whole report outline, in the outline's own words.

The outline (the seed text) and its index (INVENTORY.md) are the sources of truth; these tests
read both rather than retyping them, so a table, narrative or label that drifts from the
outline is caught here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.outline.schema import Schema, SchemaError, Table, load_schema, parse_schema

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_FILE = ROOT / "sheets_schema.json"
SEED_DIR = Path("/work/shared/seed")
OUTLINE_FILE = SEED_DIR / "000_6e6ae3da0ceb1254.txt"
INVENTORY_FILE = SEED_DIR / "INVENTORY.md"

# Texts the schema spells differently from the outline, each mapped to the outline's own
# spelling. Only Word-conversion glitches belong here, never rewording.
CORRECTIONS = {
    "Cơ quan, đơn vị": "Cơ quanđơn vị",  # table 14's label header lost its comma
}

RULE_KINDS = {"sum", "ratio", "le", "ge", "range", "required", "monotone"}
SECTION_IDS = ["s_i", "s_ii_1", "s_ii_2", "s_ii_3", "s_ii_4", "s_ii_5", "s_ii_6", "s_iii", "s_iv", "s_v"]
GROUP_II = "II. KẾT QUẢ THỰC HIỆN CÔNG TÁC CẢI CÁCH HÀNH CHÍNH, KIỂM SOÁT TTHC"

needs_seed = pytest.mark.skipif(not OUTLINE_FILE.exists(), reason="the outline seed is not available")


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def outline_spelling(text: str) -> str:
    for corrected, original in CORRECTIONS.items():
        text = text.replace(corrected, original)
    return text


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_schema(SCHEMA_FILE)


@pytest.fixture(scope="module")
def outline_lines() -> list[str]:
    return OUTLINE_FILE.read_text(encoding="utf-8").split("\n")


@pytest.fixture(scope="module")
def outline_text(outline_lines) -> str:
    return normalise(" ".join(outline_lines))


@pytest.fixture(scope="module")
def outline_cells(outline_lines) -> set[str]:
    """Every table cell of the flattened outline (a tab-led line plus lines that continue it)."""
    cells, current = set(), None
    for line in outline_lines + [""]:
        if line.startswith("\t"):
            if current is not None:
                cells.add(normalise(current))
            current = line
        elif line.strip() and current is not None:
            current += " " + line
        else:
            if current is not None:
                cells.add(normalise(current))
            current = None
    return cells


@pytest.fixture(scope="module")
def inventory() -> dict:
    text = INVENTORY_FILE.read_text(encoding="utf-8")
    tables = [
        (int(m[1]), m[2], m[3].split(",")[0].strip())
        for m in re.finditer(r"^\| (\d+) \| `(\w+)` \| ([^|]+?) \|", text, re.M)
    ]
    narratives = [(m[1], m[2].strip()) for m in re.finditer(r"^\| `(\w+)` \| ([^|]+?) \|", text, re.M)]
    rules = {int(m[1]): m[2].strip() for m in re.finditer(r"^\| (\d+) \|.*\| ([^|]*) \|$", text, re.M)}
    return {"tables": tables, "narratives": narratives, "rules": rules}


def raw_schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def raw_part(raw: dict, part_id: str) -> dict:
    return next(p for s in raw["sections"] for p in s["parts"] if p.get("id") == part_id)


def problems_of(raw: dict) -> str:
    with pytest.raises(SchemaError) as caught:
        parse_schema(raw)
    return "\n".join(caught.value.problems)


def rules_of(table: Table, kind: str) -> list:
    return [r for r in table.rules if r.kind == kind]


# --- the file and the inventory -------------------------------------------------------------


def test_it_loads_the_schema_file(schema):
    assert schema.title == "ĐỀ CƯƠNG BÁO CÁO"
    assert len(schema.sections) == len(SECTION_IDS)


@needs_seed
def test_it_has_all_17_tables_of_the_inventory_in_outline_order(schema, inventory):
    assert len(inventory["tables"]) == 17
    assert [(t.number, t.id, t.ref) for t in schema.tables] == inventory["tables"]
    assert [t.number for t in schema.tables] == list(range(1, 18))


@needs_seed
def test_it_has_all_17_narratives_of_the_inventory_in_outline_order(schema, inventory):
    assert len(inventory["narratives"]) == 17
    assert [(n.id, n.ref) for n in schema.narratives] == inventory["narratives"]


def test_it_gives_each_section_of_the_outline_one_tab(schema):
    assert [s.id for s in schema.sections] == SECTION_IDS
    assert schema.sections[0].tab == "I. Chỉ đạo, điều hành"
    assert [s.group for s in schema.sections if s.id.startswith("s_ii_")] == [GROUP_II] * 6
    for s in schema.sections:
        assert len(s.tab) <= 31 and not set(s.tab) & set("[]:*?/\\'"), s.tab


# --- the outline's own words ----------------------------------------------------------------


def outline_kinds(by_kind: dict) -> dict:
    """The wordings for kinds the outline knows: a newer kind (``like`` another, the communes
    since July 2025) has its own wording where the outline's does not fit it."""
    return {kind: text for kind, text in by_kind.items() if kind != "xa"}


def all_texts(schema: Schema):
    """(where, text) for every text of the schema a clerk reads that comes from the outline."""
    for s in schema.sections:
        yield f"{s.id}.title", s.title
        if s.group:
            yield f"{s.id}.group", s.group
        for p in s.parts:
            if p.kind == "heading":
                yield f"{s.id} heading", p.text
            elif p.kind == "narrative":
                yield f"{p.id}.prompt", p.prompt
                for kind, prompt in outline_kinds(p.prompt_by_kind).items():
                    yield f"{p.id}.prompt_by_kind.{kind}", prompt
            else:
                yield f"{p.id}.title", p.title
                for header in (p.stt_header, p.label_header, p.note):
                    if header:
                        yield f"{p.id} header/note", header
                for c in p.columns:
                    for label in c.path:
                        yield f"{p.id}.{c.id}.path", label
                for r in p.rows:
                    if r.label:
                        yield f"{p.id}.{r.id}.label", r.label


@needs_seed
def test_it_takes_every_text_verbatim_from_the_outline(schema, outline_text):
    missing = [
        (where, text)
        for where, text in all_texts(schema)
        if normalise(outline_spelling(text)) not in outline_text
    ]
    assert missing == []


@needs_seed
def test_it_takes_header_and_row_labels_from_whole_outline_cells(schema, outline_cells):
    partial = []
    for t in schema.tables:
        labels = [label for c in t.columns for label in c.path]
        labels += [h for h in (t.stt_header, t.label_header) if h]
        if t.label_header is not None:  # tables without a label column name their row in messages only
            labels += [r.label for r in t.rows if r.label]
        partial += [(t.id, x) for x in labels if normalise(outline_spelling(x)) not in outline_cells]
    assert partial == []


@needs_seed
def test_it_gives_prompts_and_headings_as_whole_outline_lines(schema, outline_lines):
    whole_lines = {normalise(line) for line in outline_lines}
    texts = [s.title for s in schema.sections]
    for s in schema.sections:
        for p in s.parts:
            if p.kind == "heading":
                texts.append(p.text)
            elif p.kind == "narrative":
                texts += p.prompt.split("\n")
                for prompt in outline_kinds(p.prompt_by_kind).values():
                    texts += prompt.split("\n")
    assert [x for x in texts if normalise(x) not in whole_lines] == []


@needs_seed
def test_it_lists_only_corrections_the_schema_actually_needs(schema, outline_text):
    used = "\n".join(text for _, text in all_texts(schema))
    for corrected, original in CORRECTIONS.items():
        assert corrected in used
        assert original in outline_text and corrected not in outline_text


# --- unit kinds and periods -----------------------------------------------------------------


def test_it_knows_the_four_unit_kinds(schema):
    assert [k.id for k in schema.unit_kinds] == ["so_nganh", "huyen", "nganh_doc", "xa"]
    assert schema.kind_by_id["xa"].like == "huyen"


def test_it_asks_the_commune_table_of_districts_and_communes_only(schema):
    def table_ids(kind):
        return {t.id for t in schema.tables_for(kind)}

    assert "t_cap_xa" in table_ids("huyen")
    assert "t_cap_xa" in table_ids("xa")
    assert "t_cap_xa" not in table_ids("so_nganh")
    assert "t_cap_xa" not in table_ids("nganh_doc")
    assert len(table_ids("so_nganh")) == 16


def test_it_words_kind_specific_narratives_per_unit_kind(schema):
    narratives = {n.id: n for n in schema.narratives}
    kstthc = narratives["ii21_kiem_soat_tthc"].prompt_by_kind
    assert set(kstthc) == {"so_nganh", "huyen", "nganh_doc", "xa"}
    assert "06a, 07a, 07g" in kstthc["so_nganh"]
    assert "06a, 07a, 07b, 07g" in kstthc["huyen"]
    assert "06a, 07c" in kstthc["nganh_doc"]
    one_stop = narratives["ii221_mot_cua"].prompt_by_kind
    assert "Trung tâm hành chính công tỉnh" in one_stop["so_nganh"]
    assert "Bộ phận Tiếp nhận và trả kết quả cấp huyện" in one_stop["huyen"]


def test_it_words_for_communes_what_the_outline_words_for_districts(schema):
    """Since July 2025 communes report what the outline asked of districts, in their own words."""
    narratives = {n.id: n for n in schema.narratives}
    kstthc = schema.prompt_for(narratives["ii21_kiem_soat_tthc"], "xa")
    assert kstthc.startswith("b) UBND xã, phường, đặc khu") and "06a, 07a, 07b, 07g" in kstthc
    assert "cấp xã" in schema.prompt_for(narratives["ii221_mot_cua"], "xa")
    rows = schema.table_by_id["t_to_chuc_bo_may"].rows + schema.table_by_id["t_quan_ly_cbccvc"].rows
    worded = [schema.label_for(r, "xa") for r in rows] + [
        schema.note_for(schema.table_by_id["t_van_ban_dien_tu"], "xa")
    ]
    headings = [schema.heading_for(p, "xa") for s in schema.sections for p in s.parts if p.kind == "heading"]
    assert [t for t in worded + headings if "huyện" in t] == []
    assert [schema.label_for(r, "huyen") for r in rows] == [r.label for r in rows]


def test_it_knows_the_periods_and_their_cutoffs(schema):
    assert [(p.id, p.cutoff_start, p.cutoff_end) for p in schema.periods] == [
        ("Q1", "12-15", "03-14"),
        ("6T", "12-15", "06-14"),
        ("9T", "12-15", "09-14"),
        ("N", "12-15", "12-14"),
    ]


# --- columns and rows -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "table_id, labels",
    [
        ("t_quan_ly_cbccvc", ["Quí I", "Quí II", "Quí III", "Năm"]),
        ("t_dao_tao", ["Quí I", "6 tháng", "Quí III", "Năm"]),
        ("t_cap_xa", ["Quí I", "6 tháng", "Quí III", "Năm"]),
    ],
)
def test_it_marks_period_columns_and_prefills_them_from_the_last_report(schema, table_id, labels):
    table = schema.table_by_id[table_id]
    assert [c.period for c in table.columns] == ["prev", "Q1", "6T", "9T", "N"]
    assert [c.path for c in table.columns][0] == ["Năm trước"]
    assert [c.path[-1] for c in table.columns[1:]] == labels
    assert all(c.prefill_from == c.id for c in table.columns)


@pytest.mark.parametrize("table_id", ["t_mot_cua", "t_to_chuc_bo_may", "t_chu_ky_so"])
def test_it_prefills_last_years_column_from_the_reporting_column(schema, table_id):
    table = schema.table_by_id[table_id]
    previous = [c for c in table.columns if "Năm (Quý) trước" in c.path]
    assert previous
    for column in previous:
        source = table.column_by_id[column.prefill_from]
        assert "Năm (Quý) báo cáo" in source.path
        assert source.path[: len(column.path) - 1] == column.path[:-1]


def test_it_draws_multi_level_headers_like_the_outline(schema):
    def paths(table_id):
        return [c.path for c in schema.table_by_id[table_id].columns]

    assert paths("t_mot_cua")[2] == ["Thực hiện theo cơ chế một cửa", "Năm (Quý) trước"]
    assert paths("t_bien_che")[:3] == [
        [
            "Tổng số biên chế, số người làm việc trong đơn vị sự nghiệp, số lao động được giao",
            "Biên chế hành chính",
            "Biên chế",
        ],
        [
            "Tổng số biên chế, số người làm việc trong đơn vị sự nghiệp, số lao động được giao",
            "Biên chế hành chính",
            "Hợp đồng lao động",
        ],
        [
            "Tổng số biên chế, số người làm việc trong đơn vị sự nghiệp, số lao động được giao",
            "Số người làm việc trong đơn vị sự nghiệp",
        ],
    ]
    assert paths("t_bien_che")[3][0] == "Tổng số đang thực hiện"
    assert paths("t_quan_ly_cbccvc")[1] == ["Năm báo cáo (số lượng)", "Quí I"]
    assert paths("t_chu_ky_so")[1:] == [["Năm (Quý) báo cáo", "Số lượng"], ["Năm (Quý) báo cáo", "Tỷ lệ"]]
    assert paths("t_dvc_truc_tuyen")[1:3] == [
        ["Dịch vụ công mức độ 3", "Số hồ sơ thực hiện mức độ 3"],
        ["Dịch vụ công mức độ 3", "Tỷ lệ"],
    ]


def test_it_types_columns_as_the_outline_implies(schema):
    def types(table_id):
        return {c.id: c.type for c in schema.table_by_id[table_id].columns}

    assert set(types("t_thanh_tra").values()) == {"text"}
    assert types("t_tuyen_truyen")["so_luong"] == "count"
    assert types("t_van_ban_ban_hanh")["so_hieu"] == "text"
    assert types("t_lien_thong") == {
        "theo_quy_dinh": "bool",
        "chu_dong": "bool",
        "don_vi_lien_thong": "text",
        "so_van_ban": "count",
        "egov": "bool",
    }
    # the outline gives one blank cell per criterion and no scale: the unit assesses in words
    assert all(c.type == "text" and c.note for c in schema.table_by_id["t_trang_ttdt"].columns)
    # Table 12 mixes headcounts and rates by row: the headcount rows are counts
    rows = schema.table_by_id["t_cap_xa"].rows
    assert {r.id: r.type for r in rows} == {
        "can_bo_tong": "count",
        "can_bo_ty_le": None,
        "cong_chuc_tong": "count",
        "cong_chuc_ty_le": None,
    }
    assert {c.type_on(r) for c in schema.table_by_id["t_cap_xa"].columns for r in rows if r.type} == {"count"}
    for t in schema.tables:
        for c in t.columns:
            if c.path[-1] == "Tỷ lệ" or c.path[-1].startswith("Tỷ lệ "):
                assert c.type == "percent", (t.id, c.id)


def test_it_computes_every_rate_the_outline_defines_and_checks_it(schema):
    computed = {(t.id, c.id) for t in schema.tables for c in t.columns if c.ratio_of}
    assert computed == {
        ("t_tinh_gian", "ty_le"),
        ("t_van_ban_dien_tu", "ty_le_vbdt"),
        ("t_van_ban_dien_tu", "ty_le_ccvc"),
        ("t_dvc_truc_tuyen", "ty_le_muc_3"),
        ("t_dvc_truc_tuyen", "ty_le_muc_4"),
    }
    for table_id, column_id in computed:
        table = schema.table_by_id[table_id]
        ratio = next(r for r in rules_of(table, "ratio") if r.left == f"*.{column_id}")
        numerator, denominator = table.column_by_id[column_id].ratio_of
        assert (ratio.numerator, ratio.denominator) == (f"*.{numerator}", f"*.{denominator}")


def test_it_adds_total_rows_only_where_the_outline_draws_them(schema):
    with_total = {t.id for t in schema.tables if any(r.kind == "total" for r in t.rows)}
    assert with_total == {"t_mot_cua", "t_lien_thong", "t_tinh_gian", "t_van_ban_dien_tu", "t_dvc_truc_tuyen"}
    for table_id in with_total:
        table = schema.table_by_id[table_id]
        total = next(r for r in table.rows if r.kind == "total")
        assert total.of and total.label in ("Tổng", "Tổng số:")
        (check,) = [r for r in rules_of(table, "sum") if r.left == f"{total.id}.*"]
        added_up = [operand.split(".")[0].removesuffix("[]") for operand in check.right]
        assert added_up == total.of, table_id


def test_it_adds_up_the_rows_a_total_names_or_else_every_fixed_and_list_row_above_it(schema):
    named = schema.table_by_id["t_tinh_gian"]
    assert named.total_parts(named.row_by_id["tong"]) == ["cong_chuc", "vien_chuc"]
    raw = raw_schema()
    total = next(r for r in raw_part(raw, "t_mot_cua")["rows"] if r["id"] == "tong")
    del total["of"]
    table = parse_schema(raw).table_by_id["t_mot_cua"]
    assert table.total_parts(table.row_by_id["tong"]) == ["tthc", "dvc_items"]  # not the heading row


def test_it_lets_units_list_as_many_lines_as_needed(schema):
    with_list = {t.id for t in schema.tables if any(r.kind == "list" for r in t.rows)}
    assert with_list == {
        "t_van_ban_ban_hanh",
        "t_mot_cua",
        "t_lien_thong",
        "t_van_ban_dien_tu",
        "t_dvc_truc_tuyen",
    }


def test_it_keeps_group_labels_without_figures_as_heading_rows(schema):
    headings = {(t.id, r.label) for t in schema.tables for r in t.rows if r.kind == "heading"}
    assert headings == {("t_mot_cua", "Dịch vụ công (báo cụ thể):")}


def test_it_asks_figures_on_the_group_row_of_table_10_as_the_outline_does(schema):
    row = schema.table_by_id["t_quan_ly_cbccvc"].row_by_id["truong_pho_phong"]
    assert row.kind == "fixed" and row.no_input == []


# --- rules ----------------------------------------------------------------------------------


def test_it_uses_every_rule_kind(schema):
    used = {r.kind for t in schema.tables for r in t.rules} | {r.kind for r in schema.rules}
    assert used == RULE_KINDS


@needs_seed
def test_it_checks_every_table_the_inventory_gives_rules_for(schema, inventory):
    globally_checked = {t for r in schema.rules for t in r.types or []}
    for number, stated in inventory["rules"].items():
        if stated == "—":
            continue
        table = next(t for t in schema.tables if t.number == number)
        own = [r for r in table.rules if r.kind != "required"]
        numeric = {c.type for c in table.columns if c.is_numeric}
        assert own or (numeric and numeric <= globally_checked), (number, stated)


@pytest.mark.parametrize(
    "table_id, kind, left, right",
    [
        ("t_kiem_tra_ra_soat", "le", "*.so_vb_khong_phu_hop", ["*.so_vb"]),
        ("t_mot_cua", "le", "*.mot_cua_bao_cao", ["*.tong_bao_cao"]),
        ("t_mot_cua", "le", "*.egov_truoc", ["*.tong_truoc"]),
        ("t_mot_cua", "sum", "tong.*", ["tthc.*", "dvc_items[].*"]),
        ("t_lien_thong", "sum", "tong.*", ["thu_tuc[].*"]),
        ("t_tinh_gian", "le", "*.phe_duyet", ["*.de_nghi"]),
        ("t_tinh_gian", "sum", "tong.*", ["cong_chuc.*", "vien_chuc.*"]),
        ("t_quan_ly_cbccvc", "sum", "tuyen_dung.*", ["tuyen_dung_cong_chuc.*", "tuyen_dung_vien_chuc.*"]),
        ("t_quan_ly_cbccvc", "ge", "*.nam", ["*.q1", "*.q2", "*.q3"]),
        ("t_tu_chu_tai_chinh", "le", "*.nd130_da_thuc_hien", ["*.nd130_tong"]),
        ("t_tu_chu_tai_chinh", "le", "*.nd16_da_thuc_hien", ["*.nd16_tong"]),
        ("t_tu_chu_tai_chinh", "le", "*.nd16_phe_duyet", ["*.nd16_du_dieu_kien"]),
        ("t_tu_chu_tai_chinh", "le", "*.nd16_du_dieu_kien", ["*.nd16_tong"]),
        ("t_van_ban_dien_tu", "le", "*.vbdt_tong", ["*.vb_tong"]),
        ("t_van_ban_dien_tu", "le", "*.vbdt_gui", ["*.vb_gui"]),
        ("t_van_ban_dien_tu", "le", "*.vbdt_nhan", ["*.vb_nhan"]),
        ("t_dao_tao", "ge", "cong_chuc_hc.*", ["cong_chuc_hc_thac_sy.*"]),
        ("t_dao_tao", "ge", "vien_chuc.*", ["vien_chuc_boi_duong_cchc.*"]),
        ("t_dao_tao", "ge", "cap_xa.*", ["cap_xa_trung_cap_ct.*"]),
        ("t_chu_ky_so", "le", "ky_so_ban_co_yeu.truoc", ["lanh_dao_ky_so.truoc"]),
        ("t_chu_ky_so", "le", "ky_so_ban_co_yeu.so_luong", ["lanh_dao_ky_so.so_luong"]),
        ("t_dvc_truc_tuyen", "ge", "*.hs_tiep_nhan", ["*.hs_muc_3", "*.hs_muc_4"]),
    ],
)
def test_it_encodes_the_rules_the_outline_states(schema, table_id, kind, left, right):
    table = schema.table_by_id[table_id]
    assert any(r.left == left and r.right == right for r in rules_of(table, kind))


def test_it_checks_that_training_figures_accumulate_over_the_year(schema):
    (monotone,) = rules_of(schema.table_by_id["t_dao_tao"], "monotone")
    assert monotone.sequence == ["*.q1", "*.m6", "*.nam"] and monotone.severity == "error"


def test_it_only_warns_about_quarter_iii_of_table_11_which_the_outline_leaves_ambiguous(schema):
    rules = {r.id: r for r in schema.table_by_id["t_dao_tao"].rules}
    below_year, after_six_months = rules["r11_quy_iii_le_nam"], rules["r11_quy_iii_luy_ke"]
    assert (below_year.kind, below_year.left, below_year.right, below_year.severity) == (
        "le",
        "*.q3",
        ["*.nam"],
        "error",
    )
    assert (after_six_months.kind, after_six_months.left, after_six_months.right) == ("ge", "*.q3", ["*.m6"])
    assert after_six_months.severity == "warning" and "mơ hồ" in after_six_months.note
    quarters = {r.id: r for r in schema.table_by_id["t_quan_ly_cbccvc"].rules}["r10_nam_ge_quy"]
    assert quarters.severity == "error" and quarters.note


def test_it_checks_each_training_group_row_against_each_of_its_sub_rows(schema):
    table = schema.table_by_id["t_dao_tao"]
    groups = ("cong_chuc_hc", "vien_chuc", "cap_xa")
    pairs = {
        (r.left.split(".")[0], r.right[0].split(".")[0])
        for r in rules_of(table, "ge")
        if r.left.split(".")[0] in groups
    }
    expected, group = set(), None
    for row in table.rows:
        group = row.id if row.id in groups else group
        if row.id not in groups:
            expected.add((group, row.id))
    assert pairs == expected and len(expected) == 15


def test_it_only_warns_when_staff_in_post_exceed_the_assignment(schema):
    caps = rules_of(schema.table_by_id["t_bien_che"], "le")
    assert len(caps) == 3
    assert all(r.severity == "warning" for r in caps)


def test_it_checks_table_14s_electronic_document_rate(schema):
    (rate,) = [
        r for r in rules_of(schema.table_by_id["t_van_ban_dien_tu"], "ratio") if r.left == "*.ty_le_vbdt"
    ]
    assert (rate.numerator, rate.denominator, rate.scale) == ("*.vbdt_tong", "*.vb_tong", 100)


def test_it_keeps_commune_percentages_between_0_and_100(schema):
    table = schema.table_by_id["t_cap_xa"]
    ranges = {r.left: (r.min, r.max) for r in rules_of(table, "range")}
    assert ranges["can_bo_ty_le.*"] == (0, 100)
    assert ranges["cong_chuc_ty_le.*"] == (0, 100)


def test_it_measures_completeness_of_every_table(schema):
    for table in schema.tables:
        required = rules_of(table, "required")
        assert required, table.id
        for rule in required:
            if rule.left.split(".")[0].endswith("[]"):
                assert table.row_by_id[rule.left.split(".")[0][:-2]].kind == "list"


def test_it_writes_messages_a_clerk_can_read(schema):
    allowed = {"label", "value", "expected", "bound", "numerator", "denominator", "min", "max"}
    for rule in [r for t in schema.tables for r in t.rules] + list(schema.rules):
        assert set(re.findall(r"{(\w+)}", rule.message)) <= allowed, rule.id
        assert re.search(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", rule.message), rule.id


def test_it_asks_every_narrative_unless_the_outline_limits_it(schema):
    for narrative in schema.narratives:
        assert narrative.required
    limited = {n.id: n.applies_to for n in schema.narratives if n.applies_to}
    assert limited == {"ii221_mot_cua": ["so_nganh", "huyen"]}


# --- a broken schema ------------------------------------------------------------------------


def test_it_refuses_a_rule_naming_an_unknown_column():
    raw = raw_schema()
    raw_part(raw, "t_van_ban_dien_tu")["rules"][0]["right"] = ["*.vb_guii", "*.vb_nhan"]
    problems = problems_of(raw)
    assert "rules(id=r14_vb_tong)" in problems
    assert "unknown column id 'vb_guii'" in problems


def test_it_refuses_severity_missing_on_a_rule_that_is_not_about_a_blank_cell():
    raw = raw_schema()
    raw_part(raw, "t_van_ban_dien_tu")["rules"][0]["severity"] = "missing"
    problems = problems_of(raw)
    assert "parts[2](id=t_van_ban_dien_tu).rules[0](id=r14_vb_tong)" in problems
    assert "severity 'missing' is only for a 'required' rule" in problems


def test_it_takes_whether_a_blank_required_cell_is_missing_or_a_warning_from_the_schema(schema):
    required = [r for t in schema.tables for r in rules_of(t, "required")]
    assert {r.severity for r in required} == {"missing", "warning"}
    assert [r.id for r in required if r.severity == "warning"] == [
        "r1_required",
        "r2_required",
        "r3_required",
        "r6_required",
        "r16_required",
        "r17_required_kip_thoi",
        "r17_required_day_du",
        "r17_required_thuan_tien",
    ]


def test_it_refuses_a_duplicate_row_id():
    raw = raw_schema()
    raw_part(raw, "t_kiem_tra_ra_soat")["rows"][1]["id"] = "kiem_tra"
    problems = problems_of(raw)
    assert "parts(id=t_kiem_tra_ra_soat).rows: duplicate row id 'kiem_tra'" in problems


def test_it_refuses_a_duplicate_table_id():
    raw = raw_schema()
    raw_part(raw, "t_tuyen_truyen")["id"] = "t_thanh_tra"
    problems = problems_of(raw)
    assert "sections(id=s_i)" in problems
    assert "duplicate id 't_thanh_tra'" in problems


def test_it_refuses_a_row_without_label():
    raw = raw_schema()
    del raw_part(raw, "t_thanh_tra")["rows"][0]["label"]
    problems = problems_of(raw)
    assert "parts[5](id=t_thanh_tra).rows[0](id=cchc)" in problems
    assert "has no label" in problems


def test_it_refuses_an_unknown_unit_kind():
    raw = raw_schema()
    raw_part(raw, "t_cap_xa")["applies_to"] = ["quan"]
    problems = problems_of(raw)
    assert "parts(id=t_cap_xa).applies_to: unknown unit kind 'quan'" in problems


def test_it_refuses_malformed_json_naming_line_and_column(tmp_path):
    broken = tmp_path / "sheets_schema.json"
    broken.write_text('{\n "version": "2017.1",\n "title": "x",\n}\n', encoding="utf-8")
    with pytest.raises(SchemaError) as caught:
        load_schema(broken)
    assert caught.value.problems[0].startswith("dòng 4, cột 1: JSON sai cú pháp")
    assert "không hợp lệ" in caught.value.user_message()


def test_it_refuses_an_operand_that_is_not_row_dot_column():
    raw = raw_schema()
    raw_part(raw, "t_tinh_gian")["rules"][0]["left"] = "phe_duyet"
    problems = problems_of(raw)
    assert "rules(id=r9_phe_duyet_le)" in problems
    assert "operand 'phe_duyet' is not of the form 'row.column'" in problems


def test_it_refuses_a_cut_off_day_that_is_not_a_day_of_the_year():
    raw = raw_schema()
    raw["periods"][0]["cutoff_start"] = "02-30"
    del raw["periods"][1]["cutoff_start"]
    problems = problems_of(raw)
    assert (
        "$.periods[0](id=Q1).cutoff_start: Value error, '02-30' is not a day of the year written MM-DD"
        in problems
    )
    assert "$.periods[1](id=6T).cutoff_start: field required" in problems


def test_it_refuses_history_thresholds_that_cannot_work():
    raw = raw_schema()
    raw["history_checks"]["outlier"].update(z_limit=0, min_history_for_z=1, factor_limit="mười")
    raw["history_checks"]["decrease"]["min_drop"] = -1
    problems = problems_of(raw)
    assert "$.history_checks.outlier.z_limit: Input should be greater than 0" in problems
    assert (
        "$.history_checks.outlier.min_history_for_z: Input should be greater than or equal to 2" in problems
    )
    assert "$.history_checks.outlier.factor_limit: Input should be a valid number" in problems
    assert "$.history_checks.decrease.min_drop: Input should be greater than or equal to 0" in problems
    del raw["history_checks"]
    assert "$.history_checks: field required" in problems_of(raw)


def test_it_computes_rates_from_counts_only(schema):
    for table in schema.tables:
        for column in table.columns:
            if column.ratio_of:
                assert [table.column_by_id[c].type for c in column.ratio_of] == ["count", "count"]
