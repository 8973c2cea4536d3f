/** A `label=` filter of the Engine API: `key` (the label is set) or `key=value` (set to that value). */
export function matchLabel(labels: Record<string, string>, filter: string): boolean {
  const eq = filter.indexOf('=');
  if (eq < 0) return filter in labels;
  return labels[filter.slice(0, eq)] === filter.slice(eq + 1);
}
