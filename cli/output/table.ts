/**
 * Columns aligned like kubectl's tabwriter: left-aligned, padded to the widest cell, three
 * spaces between columns, no trailing spaces.
 */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join("   ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** kubectl prints `<none>` for empty cells. */
export function cell(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === "") return "<none>";
  return String(value);
}

export function dollars(usd: number | null | undefined): string {
  return `$${(usd ?? 0).toFixed(2)}`;
}
