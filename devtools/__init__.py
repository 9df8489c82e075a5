"""Development and demonstration tools shipped with the appliance: the PSTN
simulator (a second Asterisk playing the carrier and the operators' phones),
the demo configuration ``make run`` starts, and two E1 spans looped to each
other as a test bench. Nothing in ``appliance`` or ``web`` imports them."""
