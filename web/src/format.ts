// Dates and deadlines as people read them.
export function day(timestamp: string | null | undefined): string {
  return timestamp ? timestamp.slice(0, 10) : '—';
}
export function minute(timestamp: string | null | undefined): string {
  return timestamp ? timestamp.slice(0, 16).replace('T', ' ') : '—';
}
// red: past the deadline; yellow: less than two days left; green: on time.
export function deadlineMark(due: string | null | undefined, now = Date.now()): 'red' | 'yellow' | 'green' {
  if (!due) return 'green';
  const left = new Date(due).getTime() - now;
  if (left < 0) return 'red';
  if (left < 2 * 24 * 3600 * 1000) return 'yellow';
  return 'green';
}
