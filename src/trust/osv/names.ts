/** Package names as each ecosystem compares them: PyPI per PEP 503 (case and `-_.` runs folded), others as is. */
export function normalizeName(ecosystemBase: string, name: string): string {
  if (ecosystemBase === 'PyPI') return name.toLowerCase().replace(/[-_.]+/g, '-');
  if (ecosystemBase === 'crates.io') return name.toLowerCase().replace(/_/g, '-');
  return name;
}
