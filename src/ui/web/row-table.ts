// One table of the page kept in step with its rows by id: a change touches only the rows it
// names, so that a pod arriving on a map of thousands costs one row, not the whole table.

export interface Row {
  id: string;
  health: string;
  hint?: string;
  cells: string[];
}

export class RowTable {
  private readonly rows = new Map<string, HTMLTableRowElement>();
  private columns = '';
  private body: HTMLTableSectionElement;

  constructor(private readonly table: HTMLTableElement) {
    this.body = table.tBodies[0] ?? table.createTBody();
  }

  /** Whether the table's columns are these (else the caller fills it again with replace). */
  hasColumns(columns: readonly string[]): boolean {
    return this.columns === columns.join('\u0000');
  }

  /** Every row anew, under these columns. */
  replace(columns: readonly string[], rows: readonly Row[]): void {
    this.table.tHead?.remove();
    const head = this.table.createTHead().insertRow();
    for (const c of columns)
      head.append(Object.assign(document.createElement('th'), { textContent: c }));
    this.columns = columns.join('\u0000');
    const body = document.createElement('tbody');
    this.rows.clear();
    for (const r of rows) body.append(this.newRow(r));
    this.body.replaceWith(body);
    this.body = body;
  }

  /** Changes the row of the same id in place, or adds it at the end. */
  upsert(r: Row): void {
    const row = this.rows.get(r.id);
    if (!row) {
      this.body.append(this.newRow(r));
      return;
    }
    if (row.className !== r.health) row.className = r.health;
    if (row.title !== (r.hint ?? '')) row.title = r.hint ?? '';
    r.cells.forEach((text, i) => {
      const cell = row.cells[i] ?? row.insertCell();
      if (cell.textContent !== text) cell.textContent = text;
    });
  }

  remove(id: string): void {
    this.rows.get(id)?.remove();
    this.rows.delete(id);
  }

  private newRow(r: Row): HTMLTableRowElement {
    const row = document.createElement('tr');
    row.dataset.id = r.id;
    row.className = r.health;
    if (r.hint) row.title = r.hint;
    for (const c of r.cells) row.insertCell().textContent = c;
    this.rows.set(r.id, row);
    return row;
  }
}
