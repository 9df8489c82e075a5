// The printable view of a report: its Print button opens the browser's print dialog.
document.getElementById("print-now").addEventListener("click", function () { window.print(); });
