#!/usr/bin/env bash
# Renders table 14's tab of a provisioned workbook to docs/table14.png (needs LibreOffice and poppler-utils).
set -e
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" && rm -rf /tmp/pic && mkdir -p /tmp/pic && .venv/bin/python - <<'PY'
import openpyxl
from bot.outline.schema import load_schema; from bot.outline.units import Unit; from bot.outline.periods import parse_period
from bot.outline.layout import build_layout; from bot.sheets.backends.workbook import WorkbookBackend
s=load_schema('sheets_schema.json'); p=parse_period('2026-Q1',s); u=Unit('STP','Sở Tư pháp','so_nganh')
l=build_layout(s,u,p); b=WorkbookBackend('/tmp/pic'); ref=b.allocate(l.title,{'unit':'STP','period':p.id}); b.lay_out(ref,l)
wb=openpyxl.load_workbook(ref.id)
vals={1:("Văn phòng Sở",420,160,260,380,150,230,45,43),2:("Phòng Hành chính tư pháp",135,60,75,120,55,65,12,12),3:("Phòng Bổ trợ tư pháp",98,40,58,85,36,49,9,8)}
tab=l.fields['t_van_ban_dien_tu/don_vi[1]/vb_tong'].tab
ws=wb[tab]
cols=['_label','vb_tong','vb_gui','vb_nhan','vbdt_tong','vbdt_gui','vbdt_nhan','ccvc_tong','ccvc_su_dung']
for i,v in vals.items():
    for c,x in zip(cols,v):
        f=l.fields[f't_van_ban_dien_tu/don_vi[{i}]/{c}']; ws.cell(f.row,f.col).value=x
wb.security=None
for name in list(wb.sheetnames):
    if name!=tab: del wb[name]
wb.save('/tmp/pic/table14.xlsx')
PY
cd /tmp/pic && timeout 120 soffice --headless --convert-to pdf table14.xlsx >/dev/null 2>&1
pdftoppm -png -r 110 -f 1 -l 1 table14.pdf /tmp/pic/t14 && cp /tmp/pic/t14-1.png "$repo/docs/table14.png"
